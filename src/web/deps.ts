/**
 * What the web layer may use of the running gateway: a narrow interface the
 * composition root (src/gateway/gateway.ts) fills in. The web layer never
 * reaches into the data plane beyond this.
 */
import type { CompiledPolicy } from "../policy/compiled.js";
import type { Store } from "../store/db.js";
import type { NewAction } from "../store/actions.js";
import type { ApprovalEvent, PendingApproval } from "../gateway/approvals.js";
import type { Logger } from "../gateway/log.js";

export interface WebApprovals {
  pending(): PendingApproval[];
  decide(id: string, verdict: "allow" | "deny", by: string, reason?: string): boolean;
  subscribe(listener: (e: ApprovalEvent) => void): () => void;
}

/** The WireGuard transport as enrollment sees it (absent: WireGuard is off). */
export interface WebWireGuard {
  publicKey: string;
  /** "host:port" written into client configs; undefined when it cannot be derived (clients use the gateway URL's host). */
  endpoint: string | undefined;
  listenPort: number;
  subnetCidr: string;
  /** The gateway's tunnel address: DNS and the agent-facing paths inside the tunnel. */
  address: string;
  /** Port of the agent-facing paths on {@link address} (the dashboard port). */
  agentPort: number;
  /** The lowest free device address given the used ones (undefined: subnet full). */
  allocate(used: ReadonlySet<string>): string | undefined;
}

export interface WebDeps {
  /** The policy in force (changes on reload). */
  policy(): CompiledPolicy;
  store: Store;
  approvals: WebApprovals;
  /** Every audited action as it is recorded (already redacted); returns the unsubscribe. */
  subscribeActions(listener: (row: NewAction & { id: number }) => void): () => void;
  /** Writes batched audit rows now (before reading the log for a replay). */
  flushAudit(): void;
  /** Re-reads the config; true when the new policy is in force. */
  reload(): boolean;
  ca: { certPem: string; fingerprint256: string; subject: string };
  /** Local transports as bound. */
  listeners(): { kind: string; address: string }[];
  /** The config file or directory the gateway runs. */
  configPath: string;
  startedAt: number;
  version: string;
  log: Logger;
  /** The WireGuard transport, when `gateway { wireguard {} }` is configured. */
  wireguard?: WebWireGuard;
  /**
   * The SSH host keys the gateway presents per `ssh` endpoint (public halves
   * only), so operators and agents can pin them in `known_hosts`.
   */
  sshHostKeys?: () => { endpoint: string; hosts: string[]; publicKey: string; fingerprint: string }[];
  /** Environment for credential presence checks (default process.env). */
  env?: Record<string, string | undefined>;
  /** Where the built SPA lives (default: dist/dashboard next to the compiled server). */
  dashboardDir?: string;
  now?: () => number;
}
