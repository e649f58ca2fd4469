/** /approvals — every pending approval, with details and a reason box. */
import type { ReactNode } from "react";
import { useApprovals } from "../approvals.ts";
import { DecideButtons } from "../components/ApprovalsBar.tsx";
import { Empty, Json, PageHead } from "../components/ui.tsx";
import { formatRelative, formatTime } from "../format.ts";
import { useNow } from "../hooks.ts";

export function ApprovalsPage(): ReactNode {
  const items = useApprovals();
  const now = useNow(1000);
  return (
    <div>
      <PageHead title="Approvals">
        <span className="dim small">{items.length} pending</span>
      </PageHead>
      {items.length === 0 ? (
        <Empty>Nothing is waiting. Requests parked by a rule with an approver such as builtin.dashboard appear here and in the bar on every page.</Empty>
      ) : (
        <div className="approval-cards">
          {items.map((a) => (
            <section key={a.id} className="card approval" data-testid="approval-card">
              <div className="row-between">
                <span className="mono strong">{a.summary}</span>
                <span className="dim nowrap">expires {formatRelative(a.expiresAt, now)}</span>
              </div>
              <div className="meta">
                <span>
                  endpoint <span className="mono">{a.endpoint}</span>
                </span>
                <span>
                  rule <span className="mono">{a.rule}</span>
                </span>
                {a.device && <span>device {a.device}</span>}
                {a.profile && <span>profile {a.profile}</span>}
                <span>
                  stage {a.stage} ({a.stageIndex + 1}/{a.stages})
                </span>
                <span className="mono">{formatTime(a.createdAt)}</span>
                {a.approvedBy.length > 0 && <span>approved so far by {a.approvedBy.join(", ")}</span>}
              </div>
              {a.reason && <p>{a.reason}</p>}
              {a.facets !== undefined && a.facets !== null && (
                <details>
                  <summary>facets</summary>
                  <Json value={a.facets} />
                </details>
              )}
              <DecideButtons a={a} withReason />
            </section>
          ))}
        </div>
      )}
    </div>
  );
}
