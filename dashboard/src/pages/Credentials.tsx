/**
 * /credentials — each credential and its secret slots: connected or not and
 * from where. Pasting is write-only: the box is cleared after saving and the
 * value is never fetched back (the API never returns it).
 */
import { useState, type FormEvent, type ReactNode } from "react";
import type { CredentialStatus } from "../../../src/web/api.ts";
import { api, enc } from "../api.ts";
import { Empty, ErrorBox, Loading, PageHead } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useCan } from "../session.tsx";

type Slot = CredentialStatus["slots"][number];

function SlotRow({ cred, slot, onDone }: { cred: string; slot: Slot; onDone: () => void }): ReactNode {
  const can = useCan();
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState(false);
  const act = useAction();
  const path = `/api/credentials/${enc(cred)}/${enc(slot.slot)}`;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!value) return;
    const v = value;
    setValue(""); // cleared at once, whatever happens next
    const ok = await act.run(() => api.put(path, { value: v }));
    if (ok) {
      setSaved(true);
      onDone();
    }
  };
  const status = slot.connected ? (slot.source === "env" ? "connected (environment)" : "connected") : "not connected";
  return (
    <tr data-testid={`slot-${cred}-${slot.slot}`}>
      <td className="mono">{slot.slot}</td>
      <td className="dim">{slot.doc}</td>
      <td>
        <span className={`badge ${slot.connected ? "ok" : "muted"}`}>{status}</span>
        {slot.updatedAt ? <div className="dim small mono">{formatTime(slot.updatedAt)}</div> : null}
      </td>
      <td className="paste-cell">
        {can.admin ? (
          <form onSubmit={(e) => void save(e)} className="paste" autoComplete="off">
            <input
              type="password"
              name={`secret-${cred}-${slot.slot}`}
              aria-label={`Secret for ${cred} ${slot.slot}`}
              autoComplete="new-password"
              placeholder={slot.connected ? "paste to replace" : "paste secret"}
              value={value}
              onChange={(e) => (setValue(e.target.value), setSaved(false))}
            />
            <button className="btn small primary" type="submit" disabled={act.busy || !value}>
              Save
            </button>
            {slot.source === "store" && (
              <button
                type="button"
                className="btn small"
                disabled={act.busy}
                onClick={() => confirm(`Clear ${cred} ${slot.slot}?`) && void act.run(() => api.del(path)).then((ok) => ok && onDone())}
              >
                Clear
              </button>
            )}
            {saved && <span className="ok-text small">saved</span>}
          </form>
        ) : (
          <span className="dim small">admins only</span>
        )}
        <ErrorBox error={act.error} />
      </td>
    </tr>
  );
}

export function CredentialsPage(): ReactNode {
  const creds = useLoad((signal) => api.get<CredentialStatus[]>("/api/credentials", { signal }), []);
  if (creds.error) return <ErrorBox error={creds.error} />;
  if (!creds.data) return <Loading what="credentials" />;
  return (
    <div>
      <PageHead title="Credentials">
        <span className="dim small">Secrets are write-only: the gateway never shows them again.</span>
      </PageHead>
      {creds.data.length === 0 && <Empty>No credentials are declared in the config.</Empty>}
      {creds.data.map((c) => {
        const connected = c.slots.every((s) => s.connected);
        return (
          <section key={c.name} className="card cred" data-testid={`cred-${c.name}`}>
            <div className="row-between">
              <h2>
                <span className="mono">{c.name}</span> <span className="dim small">{c.type}</span>
              </h2>
              <span className={`badge ${connected ? "ok" : "warn"}`}>{connected ? "connected" : "needs a secret"}</span>
            </div>
            <div className="meta">
              <span>
                endpoints: <span className="mono">{c.endpoints.join(", ") || "—"}</span>
              </span>
              <span>
                profiles: <span className="mono">{c.profiles.join(", ") || "—"}</span>
              </span>
            </div>
            <table className="grid slots">
              <thead>
                <tr>
                  <th>Slot</th>
                  <th>About</th>
                  <th>Status</th>
                  <th>Paste</th>
                </tr>
              </thead>
              <tbody>
                {c.slots.map((s) => (
                  <SlotRow key={s.slot} cred={c.name} slot={s} onDone={creds.reload} />
                ))}
              </tbody>
            </table>
          </section>
        );
      })}
    </div>
  );
}
