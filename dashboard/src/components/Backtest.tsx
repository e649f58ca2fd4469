/** The verdicts a candidate config would change, from POST /api/config/backtest. */
import type { ReactNode } from "react";
import type { BacktestResult } from "../../../src/web/api.ts";
import { formatTime } from "../format.ts";
import { Link } from "../router.tsx";
import { Verdict } from "./ui.tsx";

export function BacktestView({ result }: { result: BacktestResult }): ReactNode {
  return (
    <section className="backtest" data-testid="backtest">
      <p className="summary">
        Replayed <strong>{result.replayed}</strong> recorded action{result.replayed === 1 ? "" : "s"}:{" "}
        <strong className={result.changed.length ? "warn-text" : ""}>{result.changed.length}</strong> verdict
        {result.changed.length === 1 ? "" : "s"} would change
        {result.skipped ? `, ${result.skipped} skipped (facets not recorded)` : ""}.
      </p>
      {result.changed.length > 0 && (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th>Time</th>
                <th>Action</th>
                <th>Endpoint</th>
                <th>Before</th>
                <th>After</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {result.changed.map((c) => (
                <tr key={c.actionId}>
                  <td className="mono nowrap">{formatTime(c.time)}</td>
                  <td className="mono ellipsis">
                    <Link to={`/requests/${c.actionId}`}>{c.summary || `#${c.actionId}`}</Link>
                  </td>
                  <td className="mono">{c.endpoint}</td>
                  <td>
                    <Verdict v={c.before.verdict} /> <span className="mono dim">{c.before.rule}</span>
                  </td>
                  <td>
                    <Verdict v={c.after.verdict} /> <span className="mono dim">{c.after.rule}</span>
                  </td>
                  <td className="ellipsis">{c.after.reason ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
