/**
 * Test helpers for replay, backtest, fixture export and block rules (not
 * used by production code): a policy covering every family, and audit rows
 * made the way the gateway makes them — the action decided by the real
 * `decide()`, facets through the runtimes' own audit functions, stored and
 * read back through the real store so JSON round-trips are included.
 */
import { auditFacets as httpAuditFacets } from "../gateway/protocols/http/audit.js";
import { auditFacets as sshAuditFacets, summaryOf as sshSummary } from "../gateway/protocols/ssh/gate.js";
import { GATEWAY, policyOf } from "../config/testing.js";
import { openMemoryStore, type Store } from "../store/db.js";
import type { ActionSummary, NewAction } from "../store/actions.js";
import type { Action } from "./action.js";
import type { CompiledPolicy } from "./compiled.js";
import { decide } from "./decide.js";
import { buildHttpFacets } from "./facets/http.js";
import { buildK8sFacets } from "./facets/k8s.js";
import { sshFacets } from "./facets/ssh.js";
import { statementViews } from "./query.js";
import { analyzeSql } from "./sql/analyze.js";

export const NOW = new Date("2025-03-04T12:00:00Z");

export const BASE_HCL = `schema_version = 1
${GATEWAY}
endpoint "https" "github" { hosts = ["api.github.com"] }
endpoint "kubernetes" "prod" { server = "https://10.0.0.1:6443" }
endpoint "postgres" "pg" { host = "db.internal:5432" }
endpoint "ssh" "build" { hosts = ["build.example.com:2222"] }
credential "bearer_token" "gh" { endpoint = https.github }
credential "postgres_credential" "pg" { endpoint = postgres.pg }
credential "ssh_key" "build" { endpoint = ssh.build }
rule "gh-reads" {
  endpoint  = https.github
  condition = "http.method in ['GET', 'HEAD']"
  verdict   = "allow"
}
rule "gh-deletes" {
  endpoint  = https.github
  condition = "http.method == 'DELETE'"
  verdict   = "deny"
  reason    = "no deletes"
}
rule "gh-issue-writes" {
  endpoint  = https.github
  condition = "http.method == 'POST' && http.path.startsWith('/repos/')"
  approve   = [builtin.dashboard]
}
rule "k8s-no-exec" {
  endpoint  = kubernetes.prod
  condition = "k8s.resource == 'pods/exec'"
  verdict   = "deny"
}
rule "k8s-reads" {
  endpoint  = kubernetes.prod
  condition = "op.class == 'read'"
  verdict   = "allow"
}
rule "pg-no-ddl" {
  endpoint  = postgres.pg
  condition = "sql.verb in ['drop', 'truncate']"
  verdict   = "deny"
}
rule "ssh-no-pty" {
  endpoint  = ssh.build
  condition = "ssh.verb == 'pty'"
  verdict   = "deny"
}
rule "ssh-exec" {
  endpoint  = ssh.build
  priority  = -10
  condition = "ssh.verb == 'exec'"
  verdict   = "allow"
}
profile "default" { credentials = [bearer_token.gh, postgres_credential.pg, ssh_key.build] }
`;

export const basePolicy = (): CompiledPolicy => policyOf(BASE_HCL);

/** Config text with `extra` appended (rules, endpoints...). */
export const withHcl = (extra: string): string => `${BASE_HCL}\n${extra}\n`;

/** The engine's decision turned into the final audit verdict (approvals assumed granted). */
function auditRow(policy: CompiledPolicy, action: Action, endpoint: string, extra: Partial<NewAction>): NewAction {
  const d = decide(policy, action, { now: NOW, endpoint });
  const approved = d.verdict === "approve";
  const verdict = d.verdict === "deny" || d.verdict === "passthrough" ? "deny" : "allow";
  return {
    time: NOW.getTime(),
    device: action.device ?? "",
    profile: action.profile ?? "",
    transport: "proxy",
    endpoint: d.endpoint ?? endpoint,
    family: action.family,
    host: action.host,
    credential: verdict === "allow" ? (d.credential ?? "") : "",
    rule: d.rule ?? "",
    verdict,
    reason: verdict === "deny" ? (d.reason ?? `denied by rule "${d.rule ?? ""}"`) : "",
    approvals: approved ? [{ approver: "dashboard", decision: "allow", by: "root", at: NOW.getTime() }] : [],
    status: verdict === "allow" ? 200 : 403,
    ...extra,
  };
}

export interface HttpOpts {
  headers?: [string, string][];
  body?: string;
  profile?: string;
}

/** An HTTP row as the HTTP runtime records it. */
export function httpRow(policy: CompiledPolicy, method: string, target: string, o: HttpOpts = {}): NewAction {
  const headers: [string, string][] = o.headers ?? [["User-Agent", "curl/8"]];
  const { facets, unknown } = buildHttpFacets({ method, target, headers, ...(o.body !== undefined ? { body: Buffer.from(o.body) } : {}), truncated: false });
  const action: Action = { family: "http", host: "api.github.com", http: facets, ...(unknown.length ? { unknown } : {}), ...(o.profile ? { profile: o.profile } : {}) };
  return auditRow(policy, action, "https.github", {
    facets: httpAuditFacets(action, new Set()),
    summary: `${method.toUpperCase()} ${facets.path}`,
    bytesIn: o.body ? Buffer.byteLength(o.body) : 0,
    reqBody: o.body ?? null,
  });
}

/** A Kubernetes row as the HTTP runtime records it for a kubernetes endpoint. */
export function k8sRow(policy: CompiledPolicy, method: string, target: string): NewAction {
  const { facets, unknown } = buildK8sFacets(method, target);
  const action: Action = { family: "k8s", host: "10.0.0.1:6443", k8s: facets, ...(unknown.length ? { unknown } : {}) };
  return auditRow(policy, action, "kubernetes.prod", {
    facets: httpAuditFacets(action, new Set()),
    summary: `${facets.verb} ${facets.resource}`,
  });
}

/** One statement's row as the Postgres runtime records it (statement sampled to `sampleBytes`). */
export function sqlRow(policy: CompiledPolicy, statement: string, sampleBytes = 4096): NewAction {
  const [view] = statementViews(statement, analyzeSql(statement));
  if (!view) throw new Error("no statement");
  const action: Action = {
    family: "sql",
    host: "db.internal:5432",
    sql: { verb: view.verb, verbs: view.verbs, tables: view.tables, functions: view.functions, statement: view.statement, database: "app" },
    dispatch: { database: "app" },
    ...(view.opClass ? { opClass: view.opClass } : {}),
    ...(view.unknown?.length ? { unknown: view.unknown } : {}),
  };
  const sampled = Buffer.from(view.statement).subarray(0, sampleBytes).toString("utf8").replace(/\uFFFD$/, "");
  return auditRow(policy, action, "postgres.pg", {
    facets: {
      sql: { ...action.sql, statement: sampled },
      ...(action.unknown ? { unknown: action.unknown } : {}),
      ...(action.opClass ? { op: { class: action.opClass } } : {}),
      result: {},
    },
    summary: sampled.replace(/\s+/g, " ").trim(),
    bytesIn: Buffer.byteLength(view.statement),
  });
}

/** An SSH channel row as the SSH runtime records it. */
export function sshRow(policy: CompiledPolicy, init: Parameters<typeof sshFacets>[0]): NewAction {
  const ssh = sshFacets({ user: "ubuntu", ...init });
  const action: Action = { family: "ssh", host: "build.example.com:2222", ssh, dispatch: { user: ssh.user } };
  return auditRow(policy, action, "ssh.build", {
    facets: sshAuditFacets(action),
    summary: sshSummary(ssh),
    reqBody: ssh.stdin !== "" ? ssh.stdin : null,
  });
}

/** Stores rows and reads them back as the list API returns them (oldest first). */
export function stored(rows: readonly NewAction[], store: Store = openMemoryStore()): ActionSummary[] {
  const ids = store.actions.insertMany(rows);
  return ids.map((id) => {
    const { reqHeaders: _h, reqBody: _b, respHeaders: _rh, respBody: _rb, ...summary } = store.actions.get(id)!;
    return summary;
  });
}

/** One stored row with its sampled request body (what the detail API returns). */
export function storedDetail(row: NewAction): ActionSummary & { reqBody: string | Buffer | null } {
  const store = openMemoryStore();
  const id = store.actions.insert(row);
  const r = store.actions.get(id)!;
  store.close();
  return r;
}
