/**
 * Live requests: the first page from GET /api/actions, then SSE `action`
 * events prepended. Events are queued and applied once per animation frame
 * (500 events/s is ~8 per frame), at most MAX_ROWS are kept, and the table
 * renders only the rows in view.
 */
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { ActionList, ActionSummary } from "../../../src/web/api.ts";
import { api, errorText, query } from "../api.ts";
import { ErrorBox, PageHead, Verdict } from "../components/ui.tsx";
import { formatDuration, formatTime } from "../format.ts";
import { subscribe } from "../live.ts";
import { Link, navigate, useLocation } from "../router.tsx";

export const MAX_ROWS = 2000;
const PAGE = 200;
const ROW_H = 28;
const OVERSCAN = 12;
const VERDICTS = ["allow", "deny", "approve", "passthrough", "error"];

export interface Filters {
  verdict: string;
  endpoint: string;
  device: string;
  family: string;
  rule: string;
  text: string;
}
const KEYS: (keyof Filters)[] = ["verdict", "endpoint", "device", "family", "rule", "text"];

/** Whether a live action passes the filters (mirrors the server's list filters). */
export function matches(a: ActionSummary, f: Filters): boolean {
  if (f.verdict && a.verdict !== f.verdict) return false;
  if (f.endpoint && a.endpoint !== f.endpoint) return false;
  if (f.device && a.device !== f.device) return false;
  if (f.family && a.family !== f.family) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.text) {
    const t = f.text.toLowerCase();
    const hay = `${a.summary}\n${a.host}\n${a.endpoint}\n${a.rule}\n${a.reason}\n${a.device}\n${a.profile}`.toLowerCase();
    if (!hay.includes(t)) return false;
  }
  return true;
}

/** Newest first, deduplicated by id (a repeated id replaces the older copy), capped. */
export function mergeRows(incoming: ActionSummary[], rows: ActionSummary[], max = MAX_ROWS): { rows: ActionSummary[]; added: number } {
  if (incoming.length === 0) return { rows, added: 0 };
  const byId = new Map<number, ActionSummary>();
  for (const a of incoming) byId.set(a.id, a); // later events win
  const out: ActionSummary[] = [];
  const fresh: ActionSummary[] = [];
  for (const a of byId.values()) fresh.push(a);
  fresh.sort((x, y) => y.id - x.id);
  let added = 0;
  const updated = new Set<number>();
  const existing = new Set<number>();
  for (const r of rows) existing.add(r.id);
  for (const a of fresh) {
    if (existing.has(a.id)) updated.add(a.id);
    else {
      out.push(a);
      added++;
    }
  }
  for (const r of rows) {
    if (out.length >= max) break;
    out.push(updated.has(r.id) ? byId.get(r.id)! : r);
  }
  if (out.length > max) out.length = max;
  return { rows: out, added };
}

const Row = memo(function Row({ a }: { a: ActionSummary }): ReactNode {
  return (
    <tr className={`v-${a.verdict}`} data-id={a.id} onClick={() => navigate(`/requests/${a.id}`)}>
      <td className="mono nowrap">{formatTime(a.time)}</td>
      <td>
        <Verdict v={a.verdict} />
      </td>
      <td className="ellipsis" title={a.device}>
        {a.device}
      </td>
      <td className="mono ellipsis" title={a.endpoint}>
        {a.endpoint}
      </td>
      <td className="ellipsis">{a.family}</td>
      <td className="mono ellipsis" title={a.summary}>
        <Link to={`/requests/${a.id}`}>{a.summary || a.host}</Link>
      </td>
      <td className="num mono">{a.status ?? "—"}</td>
      <td className="num mono">{formatDuration(a.latencyMs)}</td>
      <td className="mono ellipsis" title={a.reason || a.rule}>
        {a.rule}
      </td>
    </tr>
  );
});

function readFilters(search: URLSearchParams): Filters {
  return { verdict: search.get("verdict") ?? "", endpoint: search.get("endpoint") ?? "", device: search.get("device") ?? "", family: search.get("family") ?? "", rule: search.get("rule") ?? "", text: search.get("text") ?? "" };
}

export function RequestsPage(): ReactNode {
  const loc = useLocation();
  const filters = useMemo(() => readFilters(loc.search), [loc.search.toString()]);
  const [rows, setRows] = useState<ActionSummary[]>([]);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState(0);
  const [received, setReceived] = useState(0);
  const [text, setText] = useState(filters.text);
  const [reloadTick, setReloadTick] = useState(0);

  const queue = useRef<ActionSummary[]>([]);
  const heldRef = useRef<ActionSummary[]>([]);
  const pausedRef = useRef(false);
  const loadedRef = useRef(false);
  const frame = useRef(0);
  const receivedRef = useRef(0);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const scroller = useRef<HTMLDivElement>(null);
  const shiftBy = useRef(0);

  const flush = useCallback(() => {
    frame.current = 0;
    setReceived(receivedRef.current);
    if (!loadedRef.current || queue.current.length === 0) return;
    const batch = queue.current;
    queue.current = [];
    if (pausedRef.current) {
      const h = heldRef.current;
      for (const a of batch) h.push(a);
      if (h.length > MAX_ROWS) h.splice(0, h.length - MAX_ROWS);
      setHeld(h.length);
      return;
    }
    setRows((prev) => {
      const m = mergeRows(batch, prev);
      const el = scroller.current;
      if (el && el.scrollTop > 0) shiftBy.current += m.added;
      return m.rows;
    });
  }, []);

  const schedule = useCallback(() => {
    if (!frame.current) frame.current = requestAnimationFrame(flush);
  }, [flush]);

  // Keep the rows under the reader's eyes still while new ones land above.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && shiftBy.current) {
      el.scrollTop += shiftBy.current * ROW_H;
      shiftBy.current = 0;
    }
  });

  useEffect(() => {
    const un = subscribe("action", (d) => {
      const a = d as ActionSummary;
      if (!a || typeof a.id !== "number") return;
      receivedRef.current++;
      if (matches(a, filtersRef.current)) queue.current.push(a);
      schedule();
    });
    // The server dropped us for falling behind: reload the list.
    const unResync = subscribe("resync", () => setReloadTick((t) => t + 1));
    return () => {
      un();
      unResync();
      if (frame.current) cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [schedule]);

  // (Re)load the first page whenever the filters change.
  useEffect(() => {
    const ac = new AbortController();
    loadedRef.current = false;
    setLoading(true);
    queue.current = queue.current.filter((a) => matches(a, filters));
    heldRef.current = [];
    setHeld(0);
    api
      .get<ActionList>(`/api/actions${query({ ...filters, limit: PAGE })}`, { signal: ac.signal })
      .then((list) => {
        if (ac.signal.aborted) return;
        setRows(mergeRows(queue.current, list.rows).rows);
        queue.current = [];
        setNextBefore(list.nextBefore);
        setError(null);
        loadedRef.current = true;
      })
      .catch((e: unknown) => {
        if (!ac.signal.aborted) {
          setError(errorText(e));
          loadedRef.current = true;
        }
      })
      .finally(() => !ac.signal.aborted && setLoading(false));
    return () => ac.abort();
  }, [filters, reloadTick]);

  const setFilter = (k: keyof Filters, v: string) => {
    const q = new URLSearchParams(location.search);
    if (v) q.set(k, v);
    else q.delete(k);
    const s = q.toString();
    navigate(`${location.pathname}${s ? `?${s}` : ""}`, true);
  };

  // Debounced free-text filter.
  useEffect(() => {
    if (text === filters.text) return;
    const t = setTimeout(() => setFilter("text", text), 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  const togglePause = () => {
    const next = !pausedRef.current;
    pausedRef.current = next;
    setPaused(next);
    if (!next && heldRef.current.length) {
      const h = heldRef.current;
      heldRef.current = [];
      setHeld(0);
      setRows((prev) => mergeRows(h, prev).rows);
    }
  };

  const older = async () => {
    if (nextBefore === null) return;
    try {
      const list = await api.get<ActionList>(`/api/actions${query({ ...filters, before: nextBefore, limit: PAGE })}`);
      setRows((prev) => {
        const seen = new Set(prev.map((r) => r.id));
        return [...prev, ...list.rows.filter((r) => !seen.has(r.id))];
      });
      setNextBefore(list.nextBefore);
    } catch (e) {
      setError(errorText(e));
    }
  };

  // Distinct values seen, for the filter pickers.
  const seen = useMemo(() => {
    const s = { endpoint: new Set<string>(), device: new Set<string>(), family: new Set<string>(), rule: new Set<string>() };
    for (const r of rows) {
      s.endpoint.add(r.endpoint);
      s.device.add(r.device);
      s.family.add(r.family);
      if (r.rule) s.rule.add(r.rule);
    }
    return s;
  }, [rows]);

  // Virtual window.
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(600);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scrollTop / ROW_H) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewH) / ROW_H) + OVERSCAN);
  const slice = rows.slice(first, last);
  const active = KEYS.some((k) => filters[k]);

  return (
    <div className="requests-page">
      <PageHead title="Requests">
        <span className="dim small" data-testid="live-counter" data-received={received} data-rows={rows.length}>
          {rows.length} shown · {received} live
        </span>
        <button type="button" className={`btn ${paused ? "warn" : ""}`} onClick={togglePause} aria-pressed={paused}>
          {paused ? `Resume${held ? ` (${held} new)` : ""}` : "Pause"}
        </button>
      </PageHead>
      <div className="filters" role="search">
        <select aria-label="Verdict" value={filters.verdict} onChange={(e) => setFilter("verdict", e.target.value)}>
          <option value="">all verdicts</option>
          {VERDICTS.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        {(["endpoint", "device", "family", "rule"] as const).map((k) => (
          <span key={k} className="picker">
            <input
              aria-label={k}
              placeholder={k}
              list={`dl-${k}`}
              defaultValue={filters[k]}
              key={`${k}:${filters[k]}`}
              onKeyDown={(e) => e.key === "Enter" && setFilter(k, e.currentTarget.value.trim())}
              onBlur={(e) => e.currentTarget.value.trim() !== filters[k] && setFilter(k, e.currentTarget.value.trim())}
            />
            <datalist id={`dl-${k}`}>
              {[...seen[k]].sort().map((v) => (
                <option key={v} value={v} />
              ))}
            </datalist>
          </span>
        ))}
        <input className="grow" type="search" aria-label="Search" placeholder="search summary, host, rule, reason…" value={text} onChange={(e) => setText(e.target.value)} />
        {active && (
          <button type="button" className="btn small" onClick={() => (setText(""), navigate(location.pathname, true))}>
            Clear filters
          </button>
        )}
      </div>
      <ErrorBox error={error} />
      <div className="table-scroll" ref={scroller} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <table className="grid live" data-testid="requests-table">
          <colgroup>
            <col className="c-time" />
            <col className="c-verdict" />
            <col className="c-device" />
            <col className="c-endpoint" />
            <col className="c-family" />
            <col />
            <col className="c-status" />
            <col className="c-latency" />
            <col className="c-rule" />
          </colgroup>
          <thead>
            <tr>
              <th>Time</th>
              <th>Verdict</th>
              <th>Device</th>
              <th>Endpoint</th>
              <th>Family</th>
              <th>Request</th>
              <th className="num">Status</th>
              <th className="num">Latency</th>
              <th>Rule</th>
            </tr>
          </thead>
          <tbody>
            {first > 0 && <tr className="spacer" style={{ height: first * ROW_H }} />}
            {slice.map((a) => (
              <Row key={a.id} a={a} />
            ))}
            {last < rows.length && <tr className="spacer" style={{ height: (rows.length - last) * ROW_H }} />}
          </tbody>
        </table>
        {!loading && rows.length === 0 && <div className="empty">{active ? "No requests match these filters." : "No requests yet. They appear here as agents make them."}</div>}
        {loading && rows.length === 0 && <div className="empty">Loading…</div>}
        {nextBefore !== null && rows.length < MAX_ROWS && (
          <div className="more-row">
            <button type="button" className="btn small" onClick={() => void older()}>
              Load older
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
