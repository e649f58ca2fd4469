/** Pending approvals, on every page: approve / deny in one click. */
import { useState, type ReactNode } from "react";
import type { PendingApprovalInfo } from "../../../src/web/api.ts";
import { errorText } from "../api.ts";
import { decide, useApprovals } from "../approvals.ts";
import { formatRelative } from "../format.ts";
import { useNow } from "../hooks.ts";
import { Link } from "../router.tsx";
import { useCan } from "../session.tsx";

export function DecideButtons({ a, withReason }: { a: PendingApprovalInfo; withReason?: boolean }): ReactNode {
  const can = useCan();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  if (!can.decide) return <span className="dim" title="Your role (viewer) cannot decide approvals">view only</span>;
  const go = async (v: "allow" | "deny") => {
    setBusy(true);
    setErr(null);
    try {
      await decide(a.id, v, reason.trim() || undefined);
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="decide">
      {withReason && <input className="reason" placeholder="reason (optional)" value={reason} onChange={(e) => setReason(e.target.value)} aria-label="Reason" />}
      <button type="button" className="btn ok" disabled={busy} onClick={() => void go("allow")} data-approval={a.id}>
        Approve
      </button>
      <button type="button" className="btn bad" disabled={busy} onClick={() => void go("deny")} data-approval={a.id}>
        Deny
      </button>
      {err && <span className="error-text">{err}</span>}
    </span>
  );
}

export function ApprovalsBar(): ReactNode {
  const items = useApprovals();
  const now = useNow(1000);
  if (items.length === 0) return null;
  const shown = items.slice(0, 3);
  return (
    <div className="approvals-bar" role="region" aria-label="Pending approvals">
      <div className="ab-title">
        <span className="pulse" />
        <strong>{items.length}</strong> pending approval{items.length === 1 ? "" : "s"}
        {items.length > shown.length && (
          <Link to="/approvals" className="more">
            all →
          </Link>
        )}
      </div>
      <ul>
        {shown.map((a) => (
          <li key={a.id} className="ab-item" data-testid="approval-item">
            <span className="mono ellipsis summary" title={a.summary}>
              {a.summary}
            </span>
            <span className="dim nowrap">
              {a.endpoint} · {a.rule}
              {a.stages > 1 ? ` · stage ${a.stageIndex + 1}/${a.stages}` : ""}
              {a.device ? ` · ${a.device}` : ""} · expires {formatRelative(a.expiresAt, now)}
            </span>
            <DecideButtons a={a} />
          </li>
        ))}
      </ul>
    </div>
  );
}
