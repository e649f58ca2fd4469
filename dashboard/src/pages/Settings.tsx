/** /settings — the config: viewer, or (writes on, admin) an HCL editor with live validation, backtest and save. */
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { BacktestResult, ConfigApplyResult, ConfigInfo, DiagnosticInfo, ValidateResult } from "../../../src/web/api.ts";
import { api, ApiError, errorText } from "../api.ts";
import { BacktestView } from "../components/Backtest.tsx";
import { Diagnostics, diagPos, HclEditor, type EditorHandle } from "../components/HclEditor.tsx";
import { ErrorBox, Facts, Loading, Notice, PageHead } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { useCan, useSession } from "../session.tsx";

/** Diagnostics carried by an error response (`{ error, diagnostics }`), if any. */
export function diagnosticsOf(e: unknown): DiagnosticInfo[] {
  if (e instanceof ApiError && e.body && Array.isArray(e.body.diagnostics)) return e.body.diagnostics as DiagnosticInfo[];
  return [];
}

export function SettingsPage(): ReactNode {
  const can = useCan();
  const { state, refreshState } = useSession();
  const cfg = useLoad((signal) => api.get<ConfigInfo>("/api/config", { signal }), []);
  const [text, setText] = useState<string | null>(null);
  const [base, setBase] = useState<ConfigInfo | null>(null);
  const [validation, setValidation] = useState<ValidateResult | null>(null);
  const [validating, setValidating] = useState(false);
  const [backtest, setBacktest] = useState<BacktestResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<DiagnosticInfo[]>([]);
  const editor = useRef<EditorHandle>(null);

  useEffect(() => {
    if (cfg.data && (base === null || base.revision !== cfg.data.revision)) {
      setBase(cfg.data);
      setText(cfg.data.text);
      setValidation(null);
      setBacktest(null);
      setConflict(false);
    }
  }, [cfg.data]); // eslint-disable-line react-hooks/exhaustive-deps

  const editable = !!base?.writable && can.admin;
  const dirty = text !== null && base !== null && text !== base.text;

  // Live validation, debounced.
  useEffect(() => {
    if (!editable || text === null || !dirty) {
      setValidation(null);
      return;
    }
    const ac = new AbortController();
    const t = setTimeout(() => {
      setValidating(true);
      api
        .post<ValidateResult>("/api/config/validate", { text }, { signal: ac.signal })
        .then((r) => setValidation(r))
        .catch((e: unknown) => !ac.signal.aborted && setValidation({ ok: false, diagnostics: diagnosticsOf(e).length ? diagnosticsOf(e) : [{ severity: "error", summary: errorText(e), detail: "", location: "" }] }))
        .finally(() => !ac.signal.aborted && setValidating(false));
    }, 400);
    return () => {
      clearTimeout(t);
      ac.abort();
    };
  }, [text, editable, dirty]);

  const errorLines = useMemo(() => {
    const s = new Set<number>();
    for (const d of validation?.diagnostics ?? []) {
      const p = diagPos(d);
      if (p && d.severity === "error") s.add(p[0]);
    }
    return s;
  }, [validation]);

  const runBacktest = async () => {
    if (text === null) return;
    setBusy(true);
    setError(null);
    try {
      setBacktest(await api.post<BacktestResult>("/api/config/backtest", { text }));
    } catch (e) {
      setError(errorText(e));
      const d = diagnosticsOf(e);
      if (d.length) setValidation({ ok: false, diagnostics: d });
    } finally {
      setBusy(false);
    }
  };

  const save = async () => {
    if (text === null || !base) return;
    setBusy(true);
    setError(null);
    setSaved(null);
    setWarnings([]);
    try {
      const r = await api.put<ConfigApplyResult>("/api/config", { text, baseRevision: base.revision });
      if (r.diagnostics?.length) setWarnings(r.diagnostics);
      const fresh = await api.get<ConfigInfo>("/api/config");
      setBase(fresh);
      setText(fresh.text);
      cfg.setData(fresh);
      setBacktest(null);
      setValidation(null);
      setSaved(r.reloaded ? fresh.revision : `${fresh.revision} (not reloaded yet)`);
      refreshState();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setConflict(true);
      else setError(errorText(e));
      const d = diagnosticsOf(e);
      if (d.length) setValidation({ ok: false, diagnostics: d });
    } finally {
      setBusy(false);
    }
  };

  const reload = () => {
    setBase(null);
    cfg.reload();
  };

  if (cfg.error) return <ErrorBox error={cfg.error} />;
  if (!base || text === null) return <Loading what="config" />;

  return (
    <div className="settings-page">
      <PageHead title="Settings">
        {editable && (
          <>
            <span className="dim small">{validating ? "validating…" : validation ? (validation.ok ? "valid" : `${validation.diagnostics.length} problem(s)`) : dirty ? "" : "unchanged"}</span>
            <button type="button" className="btn" disabled={busy || !dirty} onClick={() => setText(base.text)}>
              Revert
            </button>
            <button type="button" className="btn" disabled={busy || !dirty} onClick={() => void runBacktest()}>
              Backtest
            </button>
            <button type="button" className="btn primary" disabled={busy || !dirty || validation?.ok === false} onClick={() => void save()}>
              Save
            </button>
          </>
        )}
      </PageHead>
      <Facts
        rows={[
          ["Config file", <span className="mono">{base.path}</span>],
          ["Revision", <span className="mono">{base.revision}</span>],
          ["Writes", base.writable ? (can.admin ? "enabled (dashboard_config_writes = true)" : "enabled, admins only") : "disabled — set dashboard_config_writes = true in the gateway block to edit here"],
          ["Gateway", state ? `version ${state.version}, up since ${formatTime(state.startedAt)}` : "—"],
          ["CA fingerprint", <span className="mono small">{state?.ca.fingerprint256 ?? "—"}</span>],
          ["Listeners", state ? state.listeners.map((l) => `${l.kind} ${l.address}`).join(", ") : "—"],
        ]}
      />
      {conflict && (
        <Notice kind="warn">
          The config changed on disk since you loaded it, so it was not saved.{" "}
          <button type="button" className="btn small" onClick={reload}>
            Reload
          </button>{" "}
          (your edits are discarded)
        </Notice>
      )}
      {saved && (
        <Notice kind="ok">
          Saved; revision <span className="mono">{saved}</span>.
        </Notice>
      )}
      <Diagnostics diagnostics={warnings} onJump={(l, c) => editor.current?.jump(l, c)} />
      <ErrorBox error={error} />
      <HclEditor ref={editor} value={text} onChange={editable ? setText : undefined} readOnly={!editable} errorLines={errorLines} rows={28} />
      {validation && <Diagnostics diagnostics={validation.diagnostics} onJump={(l, c) => editor.current?.jump(l, c)} />}
      {backtest && <BacktestView result={backtest} />}
    </div>
  );
}
