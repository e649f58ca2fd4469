/** /devices — devices seen and enrolled; pending enrollments with code, CA fingerprint and a profile picker. */
import { useState, type ReactNode } from "react";
import type { CredentialStatus, DeviceInfo } from "../../../src/web/api.ts";
import { api, enc } from "../api.ts";
import { Empty, ErrorBox, Loading, PageHead } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useCan, useSession } from "../session.tsx";

function statusClass(s: DeviceInfo["status"]): string {
  return s === "active" ? "ok" : s === "blocked" ? "bad" : s === "pending" ? "warn" : "muted";
}

function Pending({ d, profiles, onDone }: { d: DeviceInfo; profiles: string[]; onDone: () => void }): ReactNode {
  const can = useCan();
  const { state } = useSession();
  const [profile, setProfile] = useState(d.profile || profiles[0] || "");
  const act = useAction();
  return (
    <section className="card enrollment" data-testid="enrollment">
      <div className="row-between">
        <h3>
          {d.name || d.id} <span className="badge warn">pending</span>
        </h3>
        <span className="dim">
          {d.transport}
          {d.address ? ` · ${d.address}` : ""} · {formatTime(d.lastSeen)}
        </span>
      </div>
      <p className="dim">Check that the device shows the same code and CA fingerprint before approving.</p>
      <div className="enroll-facts">
        <div>
          <div className="label">Code</div>
          <div className="code">{d.code ?? "—"}</div>
        </div>
        <div>
          <div className="label">Gateway CA fingerprint (SHA-256)</div>
          <div className="mono small fp">{state?.ca.fingerprint256 ?? "—"}</div>
        </div>
      </div>
      {can.admin ? (
        <div className="actions">
          <label className="inline">
            Profile{" "}
            <select value={profile} onChange={(e) => setProfile(e.target.value)} aria-label="Profile">
              {profiles.length === 0 && <option value="">(no profiles known)</option>}
              {profiles.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="btn ok" disabled={act.busy || !profile} onClick={() => void act.run(() => api.post(`/api/devices/${enc(d.id)}/approve`, { profile })).then((ok) => ok && onDone())}>
            Approve
          </button>
          <button type="button" className="btn bad" disabled={act.busy} onClick={() => void act.run(() => api.post(`/api/devices/${enc(d.id)}/block`)).then((ok) => ok && onDone())}>
            Block
          </button>
        </div>
      ) : (
        <p className="hint">Only admins can approve enrollments.</p>
      )}
      <ErrorBox error={act.error} />
    </section>
  );
}

export function DevicesPage(): ReactNode {
  const can = useCan();
  const devices = useLoad((signal) => api.get<DeviceInfo[]>("/api/devices", { signal }), []);
  // The contract has no profile list; gather names from credentials and devices.
  const creds = useLoad((signal) => api.get<CredentialStatus[]>("/api/credentials", { signal }).catch(() => [] as CredentialStatus[]), []);
  const act = useAction();
  if (devices.error) return <ErrorBox error={devices.error} />;
  if (!devices.data) return <Loading what="devices" />;
  const list = devices.data;
  const profiles = [...new Set([...(creds.data ?? []).flatMap((c) => c.profiles), ...list.map((d) => d.profile)].filter(Boolean))].sort();
  const pending = list.filter((d) => d.status === "pending");
  const rest = list.filter((d) => d.status !== "pending");
  const remove = (d: DeviceInfo) => {
    if (!confirm(`Delete device ${d.name || d.id}? It must enroll again.`)) return;
    void act.run(() => api.del(`/api/devices/${enc(d.id)}`)).then((ok) => ok && devices.reload());
  };
  return (
    <div>
      <PageHead title="Devices">
        <span className="dim small">
          {list.length} device{list.length === 1 ? "" : "s"}, {pending.length} pending
        </span>
        <button type="button" className="btn small" onClick={devices.reload}>
          Refresh
        </button>
      </PageHead>
      {pending.length > 0 && (
        <>
          <h2>Pending enrollments</h2>
          {pending.map((d) => (
            <Pending key={d.id} d={d} profiles={profiles} onDone={devices.reload} />
          ))}
        </>
      )}
      <ErrorBox error={act.error} />
      {rest.length === 0 ? (
        <Empty>No devices yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>ID</th>
                <th>Status</th>
                <th>Profile</th>
                <th>Transport</th>
                <th>Address</th>
                <th>Last seen</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rest.map((d) => (
                <tr key={d.id}>
                  <td>{d.name}</td>
                  <td className="mono ellipsis">{d.id}</td>
                  <td>
                    <span className={`badge ${statusClass(d.status)}`}>{d.status}</span>
                  </td>
                  <td className="mono">{d.profile || "—"}</td>
                  <td>{d.transport}</td>
                  <td className="mono">{d.address ?? "—"}</td>
                  <td className="mono nowrap">{formatTime(d.lastSeen)}</td>
                  <td className="actions-cell">
                    {can.admin && (
                      <>
                        <button type="button" className="btn small" disabled={act.busy || d.status === "blocked"} onClick={() => void act.run(() => api.post(`/api/devices/${enc(d.id)}/block`)).then((ok) => ok && devices.reload())}>
                          Block
                        </button>
                        <button type="button" className="btn small bad" disabled={act.busy} onClick={() => remove(d)}>
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
