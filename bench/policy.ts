/**
 * Policy-core benchmark (`npm run bench`): decision throughput and latency for
 * http and sql actions on a 100-rule policy, and the load time of a
 * 2,000-rule config. Each figure is printed next to a baseline measured in
 * the same run on the same machine:
 *
 * - http: the same 100 conditions hand-written as JavaScript closures (what
 *   the rule walk would cost with no CEL at all — the practical floor);
 * - sql: libpg-query parsing alone (the floor for any decision that parses);
 * - load: HCL parsing alone of the same text.
 *
 * Targets (issue #2): ≥ 500k http decisions/s on one core, sql decision p50
 * ≤ 50 µs including parsing, 2,000-rule load ≤ 500 ms.
 */
import { percentile } from "./stats.js";
import { performance } from "node:perf_hooks";
import { loadPolicy } from "../src/config/policy.js";
import { memIO } from "../src/config/testing.js";
import { parseHcl } from "../src/config/hcl/index.js";
import type { Action } from "../src/policy/action.js";
import { decide } from "../src/policy/decide.js";
import { buildHttpFacets } from "../src/policy/facets/http.js";
import { combineStatementDecisions, statementViews } from "../src/policy/query.js";
import { analyzeSql, initSqlAnalyzer } from "../src/policy/sql/analyze.js";
import { parseSync } from "libpg-query";

const NOW = new Date("2026-11-23T15:00:00Z");
const GATEWAY = `schema_version = 1
gateway {
  state_dir  = "/tmp/bench"
  public_url = "https://gw.example.test"
  wireguard { subnet_cidr = "10.55.0.0/24" }
}
`;

// ---------------------------------------------------------------------------
// 100-rule http policy, shaped like real ones (method + path families,
// header and body checks, a regex, a default deny), with native twins.

interface RuleSpec {
  cel: string;
  js: (r: { method: string; path: string; headers: Record<string, string[]>; body: string }) => boolean;
  outcome: string;
}

function httpRules(): RuleSpec[] {
  const rules: RuleSpec[] = [];
  for (let i = 0; i < 30; i++) {
    rules.push({
      cel: `http.method == 'POST' && http.path == '/v1/resource-${i}'`,
      js: (r) => r.method === "post" && r.path === `/v1/resource-${i}`,
      outcome: i % 2 ? `verdict = "deny"` : `approve = [builtin.dashboard]`,
    });
  }
  for (let i = 0; i < 20; i++) {
    rules.push({
      cel: `http.method in ['PUT', 'PATCH'] && http.path.startsWith('/v1/items/${i}/')`,
      js: (r) => (r.method === "put" || r.method === "patch") && r.path.startsWith(`/v1/items/${i}/`),
      outcome: `verdict = "deny"`,
    });
  }
  for (let i = 0; i < 15; i++) {
    rules.push({
      cel: `http.method == 'DELETE' && (http.path.startsWith('/v1/x/${i}') || http.path.endsWith('/purge-${i}'))`,
      js: (r) => r.method === "delete" && (r.path.startsWith(`/v1/x/${i}`) || r.path.endsWith(`/purge-${i}`)),
      outcome: `verdict = "deny"`,
    });
  }
  for (let i = 0; i < 10; i++) {
    const re = new RegExp(`^/v2/things/[0-9]+/${i}$`);
    rules.push({
      cel: `http.method == 'POST' && http.path.matches('^/v2/things/[0-9]+/${i}$')`,
      js: (r) => r.method === "post" && re.test(r.path),
      outcome: `verdict = "deny"`,
    });
  }
  for (let i = 0; i < 10; i++) {
    rules.push({
      cel: `'X-Debug-${i}' in http.headers`,
      js: (r) => `X-Debug-${i}` in r.headers,
      outcome: `verdict = "deny"`,
    });
  }
  for (let i = 0; i < 10; i++) {
    rules.push({
      cel: `http.method == 'GET' && http.path.startsWith('/v1/reports/${i}')`,
      js: (r) => r.method === "get" && r.path.startsWith(`/v1/reports/${i}`),
      outcome: `verdict = "allow"`,
    });
  }
  for (let i = 0; i < 4; i++) {
    rules.push({
      cel: `http.method == 'POST' && http.body.contains('danger-${i}')`,
      js: (r) => r.method === "post" && r.body.includes(`danger-${i}`),
      outcome: `verdict = "deny"`,
    });
  }
  rules.push({ cel: `http.method in ['GET', 'HEAD']`, js: (r) => r.method === "get" || r.method === "head", outcome: `verdict = "allow"` });
  return rules;
}

function httpConfig(rules: RuleSpec[]): string {
  const blocks = rules.map(
    (r, i) => `rule "r${i}" {\n  endpoint  = https.api\n  condition = ${JSON.stringify(r.cel)}\n  ${r.outcome}\n}\n`,
  );
  return `${GATEWAY}
endpoint "https" "api" { hosts = ["api.example.com"] }
credential "bearer_token" "t" { endpoint = https.api }
${blocks.join("")}
rule "default-deny" {
  endpoint = https.api
  priority = -100
  verdict  = "deny"
}
profile "p" { credentials = [bearer_token.t] }
`;
}

function httpRequests(): Action[] {
  const mk = (method: string, target: string, body = "", headers: [string, string][] = []): Action => {
    const { facets } = buildHttpFacets({ method, target, headers: [["content-type", "application/json"], ["authorization", "Bearer PH"], ...headers], body });
    return { family: "http", host: "api.example.com", profile: "p", http: facets };
  };
  return [
    mk("GET", "/v1/reports/7/daily?from=2026-01-01"),
    mk("GET", "/v1/users/me"),
    mk("POST", "/v1/resource-17", '{"a":1}'),
    mk("POST", "/v1/other", '{"note":"hello"}'),
    mk("PATCH", "/v1/items/3/name", '{"name":"x"}'),
    mk("DELETE", "/v1/x/12/abc"),
    mk("POST", "/v2/things/123/4", "{}"),
    mk("GET", "/v1/status", "", [["x-debug-3", "1"]]),
  ];
}

function nativeRunner(rules: RuleSpec[]) {
  return (a: Action): number => {
    if (a.family !== "http") return -1;
    const r = a.http;
    for (let i = 0; i < rules.length; i++) if (rules[i]!.js(r)) return i;
    return -1;
  };
}

function throughput(label: string, fn: (i: number) => unknown, ms = 1500): number {
  for (let i = 0; i < 20_000; i++) fn(i); // warm up
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let k = 0; k < 1000; k++) fn(n++);
    now = performance.now();
  }
  const perSec = (n / (now - start)) * 1000;
  void label;
  return perSec;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : n.toFixed(0);
}

// ---------------------------------------------------------------------------

async function benchHttp(detail: boolean): Promise<void> {
  const rules = httpRules();
  const loaded = loadPolicy("bench/http.hcl", memIO({ "bench/http.hcl": httpConfig(rules) }));
  if (!loaded.policy) throw new Error(loaded.diagnostics.map((d) => d.summary).join("\n"));
  const policy = loaded.policy;
  const reqs = httpRequests();
  const native = nativeRunner(rules);
  // Sanity: both agree on which rule fires.
  for (const a of reqs) {
    const d = decide(policy, a, { now: NOW });
    const n = native(a);
    const want = n < 0 ? "default-deny" : `r${n}`;
    if (d.rule !== want) throw new Error(`bench policy mismatch: ${a.family === "http" ? a.http.path : ""} → ${d.rule} vs ${want}`);
  }
  const ours = throughput("cel", (i) => decide(policy, reqs[i % reqs.length]!, { now: NOW }));
  const base = throughput("native", (i) => native(reqs[i % reqs.length]!));
  console.log(`http: ${fmt(ours)} decisions/s on one core (100-rule policy, ${reqs.length} request shapes)`);
  console.log(`      baseline, the same conditions as native JS closures: ${fmt(base)}/s → ours = ${(ours / base).toFixed(3)}× baseline`);
  console.log(`      target ≥ 500k/s → ${(ours / 500_000).toFixed(2)}× target`);
  if (detail) {
    for (const a of reqs) {
      const perSec = throughput("shape", () => decide(policy, a, { now: NOW }), 300);
      const d = decide(policy, a, { now: NOW });
      const what = a.family === "http" ? `${a.http.method} ${a.http.path}` : "";
      console.log(`      ${what.padEnd(28)} ${(1e6 / perSec).toFixed(2)} µs  → ${d.rule}`);
    }
  }
}

function sqlConfig(): string {
  const rules: string[] = [];
  const verbs = ["drop", "truncate", "alter", "grant", "revoke", "create", "comment", "do", "vacuum"];
  for (let i = 0; i < 30; i++) {
    rules.push(`condition = "sets.intersects(sql.tables, ['secret_${i}', 'tokens_${i}']) && sql.verb == 'select'"\n  approve = [builtin.dashboard]`);
  }
  for (let i = 0; i < 30; i++) rules.push(`condition = "'fn_${i}' in sql.functions"\n  verdict = "deny"`);
  for (let i = 0; i < 20; i++) rules.push(`condition = "sql.verb == '${verbs[i % verbs.length]}' && '${"t" + i}' in sql.tables"\n  verdict = "deny"`);
  for (let i = 0; i < 10; i++) rules.push(`condition = "sql.statement.matches('(?i)\\\\\\\\bcol_${i}\\\\\\\\b')"\n  verdict = "deny"`);
  rules.push(`condition = "sql.verb in ['drop', 'truncate', 'alter']"\n  verdict = "deny"`);
  rules.push(`condition = "op.class in ['write', 'delete']"\n  approve = [builtin.dashboard]`);
  while (rules.length < 99) rules.push(`condition = "sql.database == 'db_${rules.length}'"\n  verdict = "deny"`);
  rules.push(`condition = "sql.verb in ['select', 'show', 'explain']"\n  verdict = "allow"`);
  const blocks = rules.map((r, i) => `rule "s${i}" {\n  endpoint = postgres.pg\n  ${r}\n}\n`);
  return `${GATEWAY}
endpoint "postgres" "pg" { host = "db.internal:5432" }
credential "postgres_credential" "p" { endpoint = postgres.pg }
${blocks.join("")}
rule "default-deny" {
  endpoint = postgres.pg
  priority = -100
  verdict  = "deny"
}
profile "p" { credentials = [postgres_credential.p] }
`;
}

const STATEMENTS = [
  "SELECT id, name, email FROM users WHERE id = $1",
  "SELECT o.id, sum(l.amount) FROM orders o JOIN lines l ON l.order_id = o.id WHERE o.created_at > now() - interval '7 days' GROUP BY o.id ORDER BY 2 DESC LIMIT 50",
  "INSERT INTO events (kind, payload) VALUES ('login', '{}') RETURNING id",
  "UPDATE accounts SET balance = balance - 10 WHERE id = 42",
  "WITH recent AS (SELECT * FROM audit_log WHERE ts > now() - interval '1 hour') SELECT count(*) FROM recent",
  "SELECT pg_size_pretty(pg_total_relation_size('public.big_table'))",
];

async function benchSql(): Promise<void> {
  await initSqlAnalyzer();
  const loaded = loadPolicy("bench/sql.hcl", memIO({ "bench/sql.hcl": sqlConfig() }));
  if (!loaded.policy) throw new Error(loaded.diagnostics.map((d) => `${d.summary} ${d.detail}`).join("\n"));
  const policy = loaded.policy;
  const decideQuery = (text: string) =>
    combineStatementDecisions(
      statementViews(text, analyzeSql(text)).map((v) => {
        const a: Action = { family: "sql", host: "db.internal:5432", profile: "p", sql: { verb: v.verb, verbs: v.verbs, tables: v.tables, functions: v.functions, statement: v.statement, database: "app" } };
        if (v.opClass) a.opClass = v.opClass;
        if (v.unknown) a.unknown = v.unknown;
        return decide(policy, a, { now: NOW });
      }),
    );
  const time = (fn: (s: string) => unknown, rounds: number): number[] => {
    const out: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const s of STATEMENTS) {
        const t0 = performance.now();
        fn(s);
        out.push((performance.now() - t0) * 1000);
      }
    }
    return out;
  };
  time(decideQuery, 300);
  time((s) => parseSync(s), 300);
  const ours = time(decideQuery, 2000);
  const parse = time((s) => parseSync(s), 2000);
  const p50 = percentile(ours, 50);
  const base = percentile(parse, 50);
  console.log(`sql:  decision p50 ${p50.toFixed(1)} µs, p99 ${percentile(ours, 99).toFixed(1)} µs (parse + analysis + 100-rule walk, ${STATEMENTS.length} statement shapes)`);
  console.log(`      baseline, libpg-query parse alone: p50 ${base.toFixed(1)} µs → ours = ${(p50 / base).toFixed(2)}× baseline, +${(p50 - base).toFixed(1)} µs`);
  console.log(`      target p50 ≤ 50 µs → ${(p50 / 50).toFixed(2)}× target`);
}

function bigConfig(): string {
  const parts = [GATEWAY];
  for (let e = 0; e < 50; e++) {
    parts.push(`endpoint "https" "svc-${e}" { hosts = ["svc-${e}.example.com", "*.svc-${e}.example.net"] }\n`);
    parts.push(`credential "bearer_token" "tok-${e}" { endpoint = https.svc-${e} }\n`);
    for (let r = 0; r < 40; r++) {
      const cond =
        r % 4 === 0
          ? `http.method == 'POST' && http.path.startsWith('/v1/r${r}/')`
          : r % 4 === 1
            ? `http.method in ['PUT', 'PATCH', 'DELETE'] && http.path.matches('^/v2/[a-z]+/${r}$')`
            : r % 4 === 2
              ? `'X-Flag-${r}' in http.headers || http.query.mode[0] == 'r${r}'`
              : `has(http.body_json.k${r}) && http.body_json.k${r} == true`;
      parts.push(`rule "svc-${e}-r${r}" {\n  endpoint  = https.svc-${e}\n  priority  = ${r % 7}\n  condition = ${JSON.stringify(cond)}\n  verdict   = "${r % 3 ? "deny" : "allow"}"\n  reason    = "rule ${r} of service ${e}"\n}\n`);
    }
  }
  parts.push(`profile "all" { credentials = [${Array.from({ length: 50 }, (_, e) => `bearer_token.tok-${e}`).join(", ")}] }\n`);
  return parts.join("");
}

function benchLoad(): void {
  const text = bigConfig();
  const io = memIO({ "bench/big.hcl": text });
  const rounds = 7;
  const loads: number[] = [];
  const parses: number[] = [];
  let rules = 0;
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    const r = loadPolicy("bench/big.hcl", io);
    loads.push(performance.now() - t0);
    if (!r.policy) throw new Error(r.diagnostics.map((d) => d.summary).join("\n"));
    rules = r.config!.rules.length;
    t0 = performance.now();
    parseHcl(text, "bench/big.hcl");
    parses.push(performance.now() - t0);
  }
  const load = percentile(loads, 50);
  const parse = percentile(parses, 50);
  console.log(`load: ${rules}-rule config (${(text.length / 1024).toFixed(0)} KiB) loads and compiles in ${load.toFixed(0)} ms (median of ${rounds}; first ${loads[0]!.toFixed(0)} ms)`);
  console.log(`      baseline, HCL parsing alone: ${parse.toFixed(1)} ms → ours = ${(load / parse).toFixed(1)}× baseline`);
  console.log(`      target ≤ 500 ms → ${(load / 500).toFixed(2)}× target`);
}

/** Runs the policy benchmarks; `detail` adds a per-request-shape breakdown. */
export async function runPolicyBench(detail = false): Promise<void> {
  await benchHttp(detail);
  await benchSql();
  benchLoad();
}
