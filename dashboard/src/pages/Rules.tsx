/** /rules — per endpoint: verdict, condition, hits, last hit, location. */
import { useMemo, useState, type ReactNode } from "react";
import type { RuleInfo } from "../../../src/web/api.ts";
import { api } from "../api.ts";
import { Empty, ErrorBox, Loading, PageHead, Verdict } from "../components/ui.tsx";
import { formatCount, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link } from "../router.tsx";

export function RulesPage(): ReactNode {
  const rules = useLoad((signal) => api.get<RuleInfo[]>("/api/rules", { signal }), []);
  const [filter, setFilter] = useState("");
  const groups = useMemo(() => {
    const m = new Map<string, RuleInfo[]>();
    const f = filter.toLowerCase();
    for (const r of rules.data ?? []) {
      if (f && !`${r.name} ${r.condition} ${r.endpoints.join(" ")} ${r.reason ?? ""}`.toLowerCase().includes(f)) continue;
      for (const e of r.endpoints.length ? r.endpoints : ["(any)"]) {
        if (!m.has(e)) m.set(e, []);
        m.get(e)!.push(r);
      }
    }
    for (const list of m.values()) list.sort((a, b) => b.priority - a.priority || a.location.localeCompare(b.location, undefined, { numeric: true }));
    return [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [rules.data, filter]);
  if (rules.error) return <ErrorBox error={rules.error} />;
  if (!rules.data) return <Loading what="rules" />;
  return (
    <div>
      <PageHead title="Rules">
        <input type="search" placeholder="filter rules" aria-label="Filter rules" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="dim small">{rules.data.length} rules</span>
      </PageHead>
      {groups.length === 0 && <Empty>No rules{filter ? " match" : ""}.</Empty>}
      {groups.map(([endpoint, list]) => (
        <section key={endpoint} className="card">
          <h2 className="mono">{endpoint}</h2>
          <table className="grid rules">
            <colgroup>
              <col className="c-rule" />
              <col className="c-verdict" />
              <col />
              <col className="c-num" />
              <col className="c-num" />
              <col className="c-time" />
              <col className="c-loc" />
            </colgroup>
            <thead>
              <tr>
                <th>Rule</th>
                <th>Verdict</th>
                <th>Condition</th>
                <th className="num">Priority</th>
                <th className="num">Hits</th>
                <th>Last hit</th>
                <th>Location</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.name} className={r.disabled ? "disabled" : ""}>
                  <td className="mono ellipsis" title={r.reason ?? r.name}>
                    <Link to={`/requests?rule=${encodeURIComponent(r.name)}`}>{r.name}</Link>
                    {r.disabled && <span className="badge muted">disabled</span>}
                  </td>
                  <td>
                    <Verdict v={r.verdict} />
                  </td>
                  <td className="mono cond" title={r.reason ?? ""}>
                    {r.condition || <span className="dim">(always)</span>}
                  </td>
                  <td className="num mono">{r.priority}</td>
                  <td className="num mono">{formatCount(r.hits)}</td>
                  <td className="mono nowrap">{formatTime(r.lastHit)}</td>
                  <td className="mono dim ellipsis" title={r.location}>
                    {r.location.split("/").pop()}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </div>
  );
}
