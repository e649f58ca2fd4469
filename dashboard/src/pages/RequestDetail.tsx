/** /requests/:id — one action in full, its fixture, and "block requests like this". */
import { useState, type ReactNode } from "react";
import type { ActionDetail, BacktestResult, ConfigApplyResult, ConfigInfo, RulePreview } from "../../../src/web/api.ts";
import { api, ApiError, enc, errorText } from "../api.ts";
import { BacktestView } from "../components/Backtest.tsx";
import { Diagnostics, HclEditor } from "../components/HclEditor.tsx";
import { Body, ErrorBox, Facts, Headers, Json, Loading, Notice, PageHead, Verdict } from "../components/ui.tsx";
import { formatBytes, formatDuration, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link } from "../router.tsx";
import { useCan, useSession } from "../session.tsx";
import { diagnosticsOf } from "./Settings.tsx";

export function RequestDetailPage({ id }: { id: string }): ReactNode {
  const a = useLoad((signal) => api.get<ActionDetail>(`/api/actions/${enc(id)}`, { signal }), [id]);
  if (a.error) return <ErrorBox error={a.error} />;
  if (!a.data) return <Loading what="request" />;
  const d = a.data;
  return (
    <div className="detail-page">
      <PageHead title={`Request #${d.id}`}>
        <Link to="/requests" className="btn small">
          ← Requests
        </Link>
        <a className="btn" href={`/api/actions/${enc(String(d.id))}/fixture`} download={`action-${d.id}.fixture.json`}>
          Download fixture
        </a>
      </PageHead>
      <div className="summary-line mono">{d.summary}</div>
      <div className="cols">
        <section className="card">
          <h2>Decision</h2>
          <Facts
            rows={[
              ["Verdict", <Verdict key="v" v={d.verdict} />],
              ["Rule", <span className="mono">{d.rule || "—"}</span>],
              ["Reason", d.reason || "—"],
              [
                "Approvals",
                d.approvals.length ? (
                  <ul className="plain">
                    {d.approvals.map((p, i) => (
                      <li key={i}>
                        <span className="mono">{p.approver}</span> <Verdict v={p.decision} /> {p.by ? <>by <strong>{p.by}</strong></> : null}
                        {p.at ? <span className="dim mono"> {formatTime(p.at)}</span> : null}
                        {p.reason ? <span className="dim"> — {p.reason}</span> : null}
                      </li>
                    ))}
                  </ul>
                ) : (
                  "—"
                ),
              ],
              ["Flags", d.flags.length ? d.flags.map((f) => <span key={f} className="badge muted">{f}</span>) : "—"],
            ]}
          />
        </section>
        <section className="card">
          <h2>Request</h2>
          <Facts
            rows={[
              ["Time", <span className="mono">{formatTime(d.time)}</span>],
              ["Device", `${d.device}${d.profile ? ` (profile ${d.profile})` : ""}`],
              ["Endpoint", <span className="mono">{d.endpoint}</span>],
              ["Family / transport", `${d.family} / ${d.transport}`],
              ["Host", <span className="mono">{d.host}</span>],
              ["Credential", <span className="mono">{d.credential || "—"}</span>],
              ["Status", <span className="mono">{d.status ?? "—"}</span>],
              ["Latency", formatDuration(d.latencyMs)],
              ["Bytes in / out", `${formatBytes(d.bytesIn)} / ${formatBytes(d.bytesOut)}`],
            ]}
          />
        </section>
      </div>
      <section className="card">
        <h2>Facets</h2>
        <Json value={d.facets} />
      </section>
      <div className="cols">
        <section className="card">
          <h2>Request headers</h2>
          <Headers headers={d.reqHeaders} />
          <h3>Request body</h3>
          <Body body={d.reqBody} binary={d.reqBodyBinary} />
        </section>
        <section className="card">
          <h2>Response headers</h2>
          <Headers headers={d.respHeaders} />
          <h3>Response body</h3>
          <Body body={d.respBody} binary={d.respBodyBinary} />
        </section>
      </div>
      <BlockLikeThis id={d.id} />
    </div>
  );
}

type Step = { kind: "idle" } | { kind: "tested"; base: ConfigInfo; candidate: string; result: BacktestResult } | { kind: "applied"; revision: string; reloaded: boolean };

function BlockLikeThis({ id }: { id: number }): ReactNode {
  const can = useCan();
  const { state, refreshState } = useSession();
  const [preview, setPreview] = useState<RulePreview | null>(null);
  const [hcl, setHcl] = useState("");
  const [step, setStep] = useState<Step>({ kind: "idle" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [diags, setDiags] = useState<ReturnType<typeof diagnosticsOf>>([]);
  const writes = state?.configWrites ?? false;

  const load = async () => {
    setBusy(true);
    setError(null);
    try {
      const p = await api.get<RulePreview>(`/api/actions/${id}/block-rule`);
      setPreview(p);
      setHcl(p.hcl);
      setStep({ kind: "idle" });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const backtest = async () => {
    setBusy(true);
    setError(null);
    setDiags([]);
    try {
      const base = await api.get<ConfigInfo>("/api/config");
      const candidate = `${base.text.replace(/\s*$/, "")}\n\n${hcl.trim()}\n`;
      const result = await api.post<BacktestResult>("/api/config/backtest", { text: candidate });
      setStep({ kind: "tested", base, candidate, result });
    } catch (e) {
      setError(errorText(e));
      setDiags(diagnosticsOf(e));
    } finally {
      setBusy(false);
    }
  };

  const apply = async () => {
    if (step.kind !== "tested") return;
    setBusy(true);
    setError(null);
    setDiags([]);
    try {
      const r = await api.put<ConfigApplyResult>("/api/config", { text: step.candidate, baseRevision: step.base.revision });
      setStep({ kind: "applied", revision: r.revision, reloaded: r.reloaded });
      setDiags(r.diagnostics ?? []);
      refreshState();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setError("The config changed on disk since the backtest. Run the backtest again to rebase on the new revision.");
      else setError(errorText(e));
      setDiags(diagnosticsOf(e));
      if (e instanceof ApiError && e.status === 409) setStep({ kind: "idle" });
    } finally {
      setBusy(false);
    }
  };

  const why = !writes ? "Config writes are off: set dashboard_config_writes = true in the gateway block to apply rules from here." : !can.admin ? "Only admins can change the config." : "";

  return (
    <section className="card block-like" data-testid="block-like-this">
      <h2>Block requests like this</h2>
      {!preview ? (
        <>
          <p className="dim">Generates a deny rule matching requests like this one. You can review it, backtest it against recorded traffic, then apply it.</p>
          <button type="button" className="btn bad" disabled={busy} onClick={() => void load()}>
            Block requests like this
          </button>
        </>
      ) : (
        <>
          <p>
            {preview.description} <span className="dim">(endpoint <span className="mono">{preview.endpoint}</span>, rule <span className="mono">{preview.name}</span>)</span>
          </p>
          <HclEditor value={hcl} onChange={(v) => (setHcl(v), setStep({ kind: "idle" }))} readOnly={!writes || !can.admin} rows={Math.min(14, hcl.split("\n").length + 1)} label="Rule HCL" />
          <div className="actions">
            <button type="button" className="btn" disabled={busy} onClick={() => void backtest()}>
              {step.kind === "tested" ? "Backtest again" : "Backtest"}
            </button>
            <button type="button" className="btn bad" disabled={busy || !!why || step.kind !== "tested"} onClick={() => void apply()} title={why || (step.kind !== "tested" ? "Backtest first" : "")}>
              Apply
            </button>
            {why ? <span className="hint">{why}</span> : step.kind === "idle" ? <span className="hint">Backtest first: Apply shows you every verdict it changes before writing.</span> : null}
          </div>
        </>
      )}
      <ErrorBox error={error} />
      <Diagnostics diagnostics={diags} />
      {step.kind === "tested" && <BacktestView result={step.result} />}
      {step.kind === "applied" && (
        <Notice kind={step.reloaded ? "ok" : "warn"}>
          Applied — config revision <span className="mono">{step.revision.slice(0, 12)}</span>.{" "}
          {step.reloaded ? "The gateway hot-reloaded; requests like this are now denied." : "Written, but the gateway did not reload it yet."}
        </Notice>
      )}
    </section>
  );
}
