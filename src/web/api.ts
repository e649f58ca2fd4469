/**
 * The management API contract: every route, who may call it, and the JSON
 * it speaks. The server (./server.ts and ./routes/) and the dashboard
 * (dashboard/src/) both import this file, so they cannot drift apart, and
 * the route-table test walks {@link ROUTES} to prove every route is behind
 * auth, role checks and CSRF.
 *
 * Conventions:
 * - JSON in and out; errors are `{ error: string }` with 4xx/5xx.
 * - Auth: the `clawpatrol_session` cookie (HttpOnly, SameSite=Strict,
 *   Secure on HTTPS) from `POST /api/login`, or `Authorization: Bearer
 *   <api token>` for scripts. Unauthenticated API calls get 401; page loads
 *   redirect to `/login`.
 * - CSRF: every state-changing request (POST/PUT/PATCH/DELETE) made with the
 *   session cookie must carry header `x-clawpatrol-csrf` equal to the
 *   session's token (returned by login and `GET /api/session`). Bearer-token
 *   requests are exempt (no ambient credential to forge).
 * - Timestamps are epoch milliseconds; the dashboard renders them as
 *   `yyyy-MM-dd HH:mm:ss.SSS`.
 */

export type Role = "admin" | "approver" | "viewer";

/** Roles ordered by power: a route needing `approver` admits `admin` too. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, approver: 2, admin: 3 };

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Who may call a route. `public`: agents and anyone (CA, onboarding); `setup`: only before the first password exists. */
export type Access = "public" | "setup" | "login" | Role;

export interface RouteSpec {
  method: Method;
  /** Path pattern; `:name` segments are parameters. */
  path: string;
  access: Access;
  /** One line for docs/api.md. */
  doc: string;
}

/** Every route the gateway's web listener serves. Order matters only for docs. */
export const ROUTES: readonly RouteSpec[] = [
  // agent-facing, no auth
  { method: "GET", path: "/ca.crt", access: "public", doc: "The gateway CA certificate (PEM) agents must trust." },
  { method: "GET", path: "/info", access: "public", doc: "Public facts: CA fingerprint, transports." },
  { method: "GET", path: "/healthz", access: "public", doc: "Liveness." },
  // device enrollment (agent-facing; docs/devices.md)
  { method: "POST", path: "/api/enroll", access: "public", doc: "`{ name, publicKey }` → `EnrollCreated` (201): a pending device, its one-time code and the polling secret." },
  { method: "GET", path: "/api/enroll/:id", access: "public", doc: "`EnrollStatus`; needs header `x-clawpatrol-enroll-secret` (the secret from creation), else 404." },
  // first run and login
  { method: "GET", path: "/api/setup", access: "public", doc: "`{ needsSetup }`: whether the root password is still unset." },
  { method: "POST", path: "/api/setup", access: "setup", doc: "Sets the first (root, admin) password: `{ username?, password }`. Only while none exists." },
  { method: "POST", path: "/api/login", access: "public", doc: "`{ username, password }` → session cookie + `SessionInfo`." },
  { method: "POST", path: "/api/logout", access: "login", doc: "Ends the session." },
  { method: "GET", path: "/api/session", access: "login", doc: "`SessionInfo` (user, role, CSRF token)." },
  // state and live data
  { method: "GET", path: "/api/state", access: "viewer", doc: "`GatewayState`: version, CA, listeners, counts, config revision." },
  { method: "GET", path: "/api/actions", access: "viewer", doc: "`ActionList`; filters: device, profile, endpoint, verdict, rule, family, text, since, until, before, after, limit." },
  { method: "GET", path: "/api/actions/:id", access: "viewer", doc: "`ActionDetail` (facets, sampled headers and bodies)." },
  { method: "GET", path: "/api/actions/:id/fixture", access: "viewer", doc: "The action as a `clawpatrol test` fixture (JSON file download)." },
  { method: "GET", path: "/api/actions/:id/block-rule", access: "viewer", doc: "`RulePreview`: a deny rule matching requests like this one, as HCL." },
  { method: "GET", path: "/api/events", access: "viewer", doc: "Server-sent events: `action` (ActionSummary), `approval` (PendingApproval / decided)." },
  { method: "GET", path: "/api/analytics", access: "viewer", doc: "`Analytics`; query: since, until, bucket (ms)." },
  // approvals
  { method: "GET", path: "/api/approvals", access: "viewer", doc: "Pending approvals." },
  { method: "POST", path: "/api/approvals/:id", access: "approver", doc: "`{ verdict: 'allow'|'deny', reason? }`; records who decided." },
  // credentials
  { method: "GET", path: "/api/credentials", access: "viewer", doc: "`CredentialStatus[]`: connected or not per slot; never values." },
  { method: "PUT", path: "/api/credentials/:name/:slot", access: "admin", doc: "`{ value }`: pastes a secret slot (write-only)." },
  { method: "DELETE", path: "/api/credentials/:name/:slot", access: "admin", doc: "Clears a secret slot." },
  // devices
  { method: "GET", path: "/api/devices", access: "viewer", doc: "`DeviceInfo[]`: devices seen and enrolled, pending enrollments; `?code=` narrows to the pending device with that enrollment code." },
  { method: "POST", path: "/api/devices/:id/approve", access: "admin", doc: "`{ profile }`: approves a pending enrollment (WireGuard: allocates the next free tunnel address) → `{ ok, address? }`." },
  { method: "POST", path: "/api/devices/:id/block", access: "admin", doc: "Blocks a device." },
  { method: "DELETE", path: "/api/devices/:id", access: "admin", doc: "Deletes a device." },
  // rules and config
  { method: "GET", path: "/api/rules", access: "viewer", doc: "`RuleInfo[]`: per endpoint, with hit counts and last hit." },
  { method: "GET", path: "/api/config", access: "viewer", doc: "`ConfigInfo`: the config text (secrets are never in it), revision, whether writes are enabled." },
  { method: "POST", path: "/api/config/validate", access: "viewer", doc: "`{ text }` → `ValidateResult` (diagnostics with file:line:col)." },
  { method: "POST", path: "/api/config/backtest", access: "viewer", doc: "`{ text, limit? }` → `BacktestResult`: verdicts that would change." },
  { method: "PUT", path: "/api/config", access: "admin", doc: "`{ text, baseRevision }`: validates, checks the revision, writes, hot-reloads. Needs `dashboard_config_writes = true`." },
  // users (beyond the reference)
  { method: "GET", path: "/api/users", access: "admin", doc: "`UserInfo[]`." },
  { method: "POST", path: "/api/users", access: "admin", doc: "`{ username, password, role }` creates a user." },
  { method: "PUT", path: "/api/users/:username", access: "admin", doc: "`{ role?, password? }`." },
  { method: "DELETE", path: "/api/users/:username", access: "admin", doc: "Deletes a user (not the last admin)." },
  { method: "PUT", path: "/api/account/password", access: "login", doc: "`{ current, password }`: changes one's own password." },
  { method: "POST", path: "/api/tokens", access: "login", doc: "`{ name }` → `{ token }` (shown once): an API token with the caller's role." },
  { method: "GET", path: "/api/tokens", access: "login", doc: "The caller's API tokens (names, created, last used; never values)." },
  { method: "DELETE", path: "/api/tokens/:id", access: "login", doc: "Revokes one of the caller's tokens." },
];

/** Dashboard pages (served as the SPA; all but /login need a session, else redirect to /login). */
export const PAGES: readonly string[] = ["/", "/requests", "/requests/:id", "/approvals", "/devices", "/credentials", "/rules", "/analytics", "/settings", "/account", "/login", "/setup"];

export const SESSION_COOKIE = "clawpatrol_session";
export const CSRF_HEADER = "x-clawpatrol-csrf";

// ---------------------------------------------------------------------------
// Shapes

export interface SessionInfo {
  username: string;
  role: Role;
  csrfToken: string;
  expiresAt: number;
}

export interface GatewayState {
  version: string;
  startedAt: number;
  ca: { fingerprint256: string; subject: string };
  listeners: { kind: string; address: string }[];
  configPath: string;
  configRevision: string;
  configWrites: boolean;
  counts: { endpoints: number; rules: number; profiles: number; credentials: number; pendingApprovals: number; actions: number };
}

/** One action as lists show it (mirrors the store's ActionSummary). */
export interface ActionSummary {
  id: number;
  time: number;
  device: string;
  profile: string;
  transport: string;
  endpoint: string;
  family: string;
  host: string;
  credential: string;
  rule: string;
  verdict: "allow" | "deny" | "approve" | "passthrough" | "error";
  reason: string;
  approvals: { approver: string; decision: string; by?: string; reason?: string; at?: number }[];
  facets: Record<string, unknown>;
  summary: string;
  status: number | null;
  latencyMs: number | null;
  bytesIn: number;
  bytesOut: number;
  flags: string[];
}

export interface ActionList {
  rows: ActionSummary[];
  nextBefore: number | null;
}

export interface ActionDetail extends ActionSummary {
  reqHeaders: Record<string, string[]> | null;
  reqBody: string | null;
  respHeaders: Record<string, string[]> | null;
  respBody: string | null;
  /** True when a body was binary (shown as base64). */
  reqBodyBinary: boolean;
  respBodyBinary: boolean;
}

export interface RulePreview {
  /** The rule as HCL, ready to append. */
  hcl: string;
  name: string;
  endpoint: string;
  condition: string;
  /** What it matches, in words. */
  description: string;
}

export interface AnalyticsBucket {
  t: number;
  requests: number;
  denies: number;
  approvals: number;
  /** p50 latency in ms of the bucket (null when none). */
  p50: number | null;
}

export interface Analytics {
  since: number;
  until: number;
  bucketMs: number;
  series: AnalyticsBucket[];
  byDevice: { key: string; requests: number; denies: number }[];
  byEndpoint: { key: string; requests: number; denies: number; p50: number | null }[];
  byRule: { key: string; hits: number }[];
  totals: { requests: number; denies: number; approvals: number };
}

export interface PendingApprovalInfo {
  id: string;
  endpoint: string;
  rule: string;
  reason?: string;
  device?: string;
  profile?: string;
  summary: string;
  facets?: unknown;
  stage: string;
  stageIndex: number;
  stages: number;
  createdAt: number;
  expiresAt: number;
  approvedBy: string[];
}

export interface CredentialStatus {
  name: string;
  type: string;
  endpoints: string[];
  profiles: string[];
  slots: { slot: string; doc: string; connected: boolean; source: "store" | "env" | "none"; updatedAt: number | null }[];
}

export interface DeviceInfo {
  id: string;
  name: string;
  profile: string;
  status: "pending" | "active" | "blocked" | "seen";
  transport: string;
  lastSeen: number | null;
  /** Enrollment code shown to the operator (pending only). */
  code?: string;
  address?: string;
  /** WireGuard public key (enrolled WireGuard devices). */
  publicKey?: string;
}

/** Header carrying the enrollment polling secret on `GET /api/enroll/:id`. */
export const ENROLL_SECRET_HEADER = "x-clawpatrol-enroll-secret";

/** `POST /api/enroll` (201). `secret` is shown once; only its hash is stored. */
export interface EnrollCreated {
  id: string;
  /** One-time code the operator approves (`clawpatrol devices approve <code>`), e.g. "K7QX-M2TP". */
  code: string;
  secret: string;
  /** SHA-256 fingerprint of the gateway CA, to compare with what the operator sees. */
  caFingerprint: string;
}

/** `GET /api/enroll/:id`. */
export type EnrollStatus =
  | { status: "pending"; code: string }
  | { status: "blocked" }
  | {
      status: "approved";
      /** The device's tunnel address (a /32). */
      address: string;
      gatewayPublicKey: string;
      /** WireGuard endpoint "host:port"; null when the gateway cannot tell (use the gateway URL's host and `listenPort`). */
      endpoint: string | null;
      listenPort: number;
      /** The gateway's tunnel address (also the DNS server and the agent-facing paths). */
      gatewayAddress: string;
      /** DNS servers inside the tunnel. */
      dns: string[];
      /** URL of the agent-facing paths inside the tunnel. */
      agentUrl: string;
      caPem: string;
      caFingerprint: string;
      profile: string;
      /** Placeholder environment variables for the profile's credentials (never real secrets). */
      env: Record<string, string>;
    };

export interface RuleInfo {
  name: string;
  endpoints: string[];
  verdict: "allow" | "deny" | "approve";
  condition: string;
  reason?: string;
  priority: number;
  disabled: boolean;
  /** `file:line:col` of the rule block. */
  location: string;
  hits: number;
  lastHit: number | null;
}

export interface ConfigInfo {
  path: string;
  text: string;
  revision: string;
  writable: boolean;
}

export interface DiagnosticInfo {
  severity: "error" | "warning";
  summary: string;
  detail: string;
  /** `file:line:col`. */
  location: string;
  line?: number;
  column?: number;
}

export interface ValidateResult {
  ok: boolean;
  diagnostics: DiagnosticInfo[];
}

export interface BacktestChange {
  actionId: number;
  time: number;
  summary: string;
  endpoint: string;
  before: { verdict: string; rule: string };
  after: { verdict: string; rule: string; reason?: string };
}

export interface BacktestResult {
  replayed: number;
  changed: BacktestChange[];
  /** Actions that could not be replayed (facets not recorded), counted. */
  skipped: number;
}

export interface UserInfo {
  username: string;
  role: Role;
  createdAt: number;
}

// ---------------------------------------------------------------------------
// Added with the server (issue 6): small request/response shapes.

/** `GET /api/setup`. */
export interface SetupStatus {
  needsSetup: boolean;
}

/** `GET /api/tokens` rows (never the token value). */
export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** `POST /api/tokens` (201): the only time the token value is shown. */
export interface ApiTokenCreated {
  id: string;
  name: string;
  /** `cpt_...`; send as `Authorization: Bearer <token>`. */
  token: string;
  /** The creator's role; the token follows later role changes of its creator. */
  role: Role;
  createdAt: number;
}

/** `PUT /api/config` (200). Errors: 403 writes disabled, 409 `{ error, revision }` stale base, 422 `{ error, diagnostics }`. */
export interface ConfigApplyResult {
  /** Revision of the text now on disk. */
  revision: string;
  /** Whether the gateway reloaded it (the new policy is live). */
  reloaded: boolean;
  /** Warnings of the applied config. */
  diagnostics: DiagnosticInfo[];
}

/** `POST /api/approvals/:id` (200). 404 when the approval is no longer pending; 409 when this user already approved it. */
export interface DecideResult {
  ok: true;
  /** The approvals still pending afterwards. */
  pending: PendingApprovalInfo[];
}

/**
 * SSE `approval` events (`data:` JSON): a new pending stage, a decision
 * (`by` is the operator's username, `timeout`, or an LLM), or the chain's end.
 */
export type ApprovalStreamEvent =
  | { type: "pending"; approval: PendingApprovalInfo }
  | { type: "decided"; id: string; decision: { stage: string; verdict: "allow" | "deny"; by: string; reason?: string; at: number } }
  | { type: "finished"; id: string; verdict: "allow" | "deny"; reason: string };
