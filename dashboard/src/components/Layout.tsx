/** The console frame: sidebar nav, the approvals bar, the page. */
import { useEffect, useState, type ReactNode } from "react";
import { useApprovals } from "../approvals.ts";
import { onStatus, type LiveStatus } from "../live.ts";
import { Link } from "../router.tsx";
import { useSession } from "../session.tsx";
import { ApprovalsBar } from "./ApprovalsBar.tsx";
import { Logo } from "./Logo.tsx";

const NAV: [string, string][] = [
  ["/requests", "Requests"],
  ["/approvals", "Approvals"],
  ["/devices", "Devices"],
  ["/credentials", "Credentials"],
  ["/rules", "Rules"],
  ["/analytics", "Analytics"],
  ["/settings", "Settings"],
  ["/account", "Account"],
];

function LiveDot(): ReactNode {
  const [s, setS] = useState<LiveStatus>("connecting");
  useEffect(() => onStatus(setS), []);
  return (
    <span className={`live-dot ${s}`} title={`Live events: ${s}`}>
      {s === "open" ? "live" : s}
    </span>
  );
}

export function Layout({ path, children }: { path: string; children: ReactNode }): ReactNode {
  const { session, state, logout } = useSession();
  const pending = useApprovals().length;
  const active = (to: string) => (to === "/requests" ? path === "/" || path.startsWith("/requests") : path.startsWith(to));
  return (
    <div className="app">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <Logo />
          Claw Patrol
        </div>
        <ul>
          {NAV.map(([to, label]) => (
            <li key={to}>
              <Link to={to} className={active(to) ? "active" : ""}>
                {label}
                {to === "/approvals" && pending > 0 && <span className="count">{pending}</span>}
              </Link>
            </li>
          ))}
        </ul>
        <div className="side-foot">
          <LiveDot />
          <div className="who">
            <span className="mono">{session.username}</span> <span className="badge muted">{session.role}</span>
          </div>
          {state && <div className="dim small">gateway {state.version}</div>}
          <button type="button" className="btn small" onClick={logout}>
            Sign out
          </button>
        </div>
      </nav>
      <div className="main">
        <ApprovalsBar />
        <main className="page">{children}</main>
      </div>
    </div>
  );
}
