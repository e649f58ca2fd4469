import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { GATEWAY, policyOf } from "../config/testing.js";
import type { Action, HttpFacets, SqlFacets, UnknownFacet } from "./action.js";
import { decide, failClosedReason, settledVerdict, TRUNCATED_APPROVAL_REASON, type Decision } from "./decide.js";
import { combineStatementDecisions, statementViews } from "./query.js";
import { analyzeSql, initSqlAnalyzer } from "./sql/analyze.js";
import { buildHttpFacets } from "./facets/http.js";

const NOW = new Date("2026-11-22T14:30:00Z"); // a Sunday

function http(host: string, method: string, target = "/", extra: Partial<Action> = {}, body?: string): Action {
  const { facets, unknown } = buildHttpFacets({ method, target, headers: [["content-type", "application/json"]], ...(body !== undefined ? { body } : {}) });
  const a = { family: "http", host, http: facets, ...extra } as Action;
  if (unknown.length) a.unknown = unknown;
  return a;
}

function httpWith(host: string, facets: Partial<HttpFacets>, extra: Partial<Action> = {}): Action {
  const base: HttpFacets = { method: "get", path: "/", query: {}, headers: {}, body: "", body_json: {}, ...facets };
  return { family: "http", host, http: base, ...extra } as Action;
}

function sql(host: string, facets: Partial<SqlFacets>, extra: Partial<Action> = {}): Action {
  const base: SqlFacets = { verb: "select", verbs: ["select"], tables: [], functions: [], statement: "select 1", database: "", ...facets };
  return { family: "sql", host, sql: base, opClass: "read", ...extra } as Action;
}

const pick = (d: Decision) => [d.verdict, d.rule ?? "", d.endpoint ?? ""];

describe("decide: rule walk", () => {
  const policy = policyOf(`${GATEWAY}
endpoint "https" "gh" { hosts = ["api.github.com"] }
credential "bearer_token" "gh" { endpoint = https.gh }
approver "human_approver" "ops" { channel = "#ops" }
approver "llm_approver" "judge" {
  model = "claude-haiku-4-5-20251001"
  credential = bearer_token.gh
  policy = "be careful"
}
rule "first-at-zero" {
  endpoint  = https.gh
  condition = "http.path.startsWith('/repos')"
  verdict   = "allow"
}
rule "second-at-zero" {
  endpoint  = https.gh
  condition = "http.path.startsWith('/repos/x')"
  verdict   = "deny"
  reason    = "never reached: declared later at the same priority"
}
rule "override" {
  endpoint  = https.gh
  priority  = 10
  condition = "http.method == 'DELETE'"
  verdict   = "deny"
  reason    = "no deletes"
}
rule "disabled-catch-all" {
  endpoint = https.gh
  priority = 100
  disabled = true
  verdict  = "deny"
}
rule "writes" {
  endpoint  = https.gh
  condition = "http.method in ['POST', 'PUT']"
  approve   = [llm_approver.judge, human_approver.ops]
}
rule "fallback" {
  endpoint = https.gh
  priority = -100
  condition = "http.path == '/admin'"
  verdict  = "deny"
}
profile "default" { credentials = [bearer_token.gh] }
`);
  it("declaration order breaks priority ties", () => {
    assert.deepEqual(pick(decide(policy, http("api.github.com", "GET", "/repos/x/y"), { now: NOW })), ["allow", "first-at-zero", "https.gh"]);
  });
  it("higher priority wins regardless of order; disabled rules are skipped", () => {
    const d = decide(policy, http("api.github.com", "DELETE", "/repos/x"), { now: NOW });
    assert.deepEqual(pick(d), ["deny", "override", "https.gh"]);
    assert.equal(d.reason, "no deletes");
  });
  it("approve chains are reported as approve with the approvers in order", () => {
    const d = decide(policy, http("api.github.com", "POST", "/user"), { now: NOW });
    assert.deepEqual(pick(d), ["approve", "writes", "https.gh"]);
    assert.deepEqual(d.approvers, ["judge", "ops"]);
  });
  it("negative priority runs last; no match is allow with no rule", () => {
    assert.deepEqual(pick(decide(policy, http("api.github.com", "GET", "/admin"), { now: NOW })), ["deny", "fallback", "https.gh"]);
    assert.deepEqual(pick(decide(policy, http("api.github.com", "GET", "/user"), { now: NOW })), ["allow", "", "https.gh"]);
  });
  it("resolves the fallback credential", () => {
    assert.equal(decide(policy, http("api.github.com", "GET", "/user"), { now: NOW }).credential, "gh");
  });
});

describe("decide: endpoints and hosts", () => {
  const policy = policyOf(`${GATEWAY}
defaults { unknown_host = "deny" }
endpoint "https" "exact" { hosts = ["s3.amazonaws.com"] }
endpoint "https" "east" { hosts = ["*.us-east-1.amazonaws.com"] }
endpoint "https" "aws" { hosts = ["*.amazonaws.com"] }
endpoint "https" "alt-port" { hosts = ["grafana.example.com:8443"] }
endpoint "ssh" "build" { hosts = ["build.example.com:2222"] }
endpoint "https" "shared-a" { hosts = ["api.anthropic.com"] }
endpoint "https" "shared-b" { hosts = ["api.anthropic.com"] }
credential "bearer_token" "aws" { endpoints = [https.exact, https.east, https.aws, https.alt-port] }
credential "bearer_token" "a" { endpoint = https.shared-a }
credential "bearer_token" "b" { endpoint = https.shared-b }
credential "ssh_key" "k" { endpoint = ssh.build }
profile "p1" { credentials = [bearer_token.aws, bearer_token.a] }
profile "p2" { credentials = [bearer_token.b, ssh_key.k] }
`);
  const ep = (host: string, profile?: string, family: Action["family"] = "http") => {
    const a =
      family === "http"
        ? http(host, "GET", "/", profile ? { profile } : {})
        : ({ family: "ssh", host, ssh: { verb: "exec", command: "", subsystem: "", forward_host: "", forward_port: 0, user: "u", stdin: "" }, ...(profile ? { profile } : {}) } as Action);
    return decide(policy, a, { now: NOW });
  };
  it("exact beats wildcard; the longest wildcard suffix wins; the bare suffix does not match", () => {
    assert.equal(ep("s3.amazonaws.com", "p1").endpoint, "https.exact");
    assert.equal(ep("s3.us-east-1.amazonaws.com", "p1").endpoint, "https.east");
    assert.equal(ep("a.b.us-west-2.amazonaws.com", "p1").endpoint, "https.aws");
    assert.equal(ep("amazonaws.com", "p1").verdict, "deny");
    assert.equal(ep("amazonaws.com", "p1").problem?.kind, "unknown_host");
  });
  it("ports: default port implied, explicit ports must match", () => {
    assert.equal(ep("s3.amazonaws.com:443", "p1").endpoint, "https.exact");
    assert.equal(ep("s3.amazonaws.com:8443", "p1").problem?.kind, "unknown_host");
    assert.equal(ep("grafana.example.com:8443", "p1").endpoint, "https.alt-port");
    assert.equal(ep("grafana.example.com", "p1").problem?.kind, "unknown_host");
    assert.equal(ep("build.example.com:2222", "p2", "ssh").endpoint, "ssh.build");
  });
  it("host matching is case-insensitive", () => {
    assert.equal(ep("S3.AmazonAWS.com", "p1").endpoint, "https.exact");
  });
  it("a profile only sees the endpoints its credentials bind", () => {
    assert.equal(ep("api.anthropic.com", "p1").endpoint, "https.shared-a");
    assert.equal(ep("api.anthropic.com", "p2").endpoint, "https.shared-b");
    assert.equal(ep("s3.amazonaws.com", "p2").problem?.kind, "unknown_host");
  });
  it("without a profile, a shared host is ambiguous unless pinned", () => {
    const d = ep("api.anthropic.com");
    assert.equal(d.problem?.kind, "ambiguous_host");
    assert.match(d.problem!.message, /claimed by multiple endpoints \[shared-a shared-b\]/);
    const pinned = decide(policy, http("api.anthropic.com", "GET"), { now: NOW, endpoint: "https.shared-b" });
    assert.equal(pinned.endpoint, "https.shared-b");
    assert.equal(decide(policy, http("api.anthropic.com", "GET"), { now: NOW, endpoint: "shared-a" }).endpoint, "https.shared-a");
  });
  it("an unknown profile is denied", () => {
    assert.deepEqual([ep("s3.amazonaws.com", "nope").verdict, ep("s3.amazonaws.com", "nope").problem?.kind], ["deny", "unknown_profile"]);
  });
  it("unknown_host passthrough is the default", () => {
    const p = policyOf(`${GATEWAY}\nendpoint "https" "x" { hosts = ["x.com"] }\n`);
    assert.equal(decide(p, http("y.com", "GET"), { now: NOW }).verdict, "passthrough");
  });
});

describe("decide: credential dispatch", () => {
  const policy = policyOf(`${GATEWAY}
endpoint "https" "orb" { hosts = ["api.withorb.com"] }
endpoint "postgres" "pg" { host = "db.internal:5432" }
credential "bearer_token" "orb-test" { endpoint = https.orb }
credential "bearer_token" "orb-prod" { endpoint = https.orb }
credential "bearer_token" "orb-default" { endpoint = https.orb }
credential "postgres_credential" "ro" {
  endpoint = postgres.pg
  user     = "agent_ro"
}
credential "postgres_credential" "rw" {
  endpoint = postgres.pg
  user     = "agent_rw"
}
rule "prod-reads-only" {
  endpoint   = https.orb
  credential = bearer_token.orb-prod
  condition  = "http.method != 'GET'"
  verdict    = "deny"
  reason     = "prod is read-only"
}
rule "rw-writes" {
  endpoint   = postgres.pg
  credential = postgres_credential.rw
  condition  = "sql.verb in ['insert', 'update', 'delete']"
  approve    = [builtin.dashboard]
}
profile "billing" {
  credentials = [
    { placeholder = "PH_orb_test", credential = bearer_token.orb-test },
    { placeholder = "PH_orb_prod", credential = bearer_token.orb-prod },
    bearer_token.orb-default,
    postgres_credential.ro,
    postgres_credential.rw,
  ]
}
`);
  const orb = (auth: string, method = "POST") =>
    decide(policy, http("api.withorb.com", method, "/v1/x", { profile: "billing", dispatch: { texts: [auth] } }), { now: NOW });
  it("picks the credential whose placeholder the request carries", () => {
    assert.equal(orb("Bearer PH_orb_test").credential, "orb-test");
    assert.equal(orb("Bearer PH_orb_prod").credential, "orb-prod");
    assert.equal(orb("Bearer something-else").credential, "orb-default");
  });
  it("a rule's credential predicate only matches requests dispatched against it", () => {
    assert.deepEqual(pick(orb("Bearer PH_orb_prod")), ["deny", "prod-reads-only", "https.orb"]);
    assert.deepEqual(pick(orb("Bearer PH_orb_test")), ["allow", "", "https.orb"]);
    assert.deepEqual(pick(orb("Bearer PH_orb_prod", "GET")), ["allow", "", "https.orb"]);
  });
  it("postgres dispatches on the startup user; a built-in approver works", () => {
    const ins = (user: string) =>
      decide(policy, sql("db.internal:5432", { verb: "insert", verbs: ["insert"] }, { profile: "billing", dispatch: { user }, opClass: "write" }), { now: NOW });
    assert.deepEqual([ins("agent_rw").verdict, ins("agent_rw").credential, ins("agent_rw").approvers], ["approve", "rw", ["dashboard"]]);
    assert.deepEqual([ins("agent_ro").verdict, ins("agent_ro").credential], ["allow", "ro"]);
    assert.equal(ins("stranger").credential, undefined);
  });
  it("an explicitly named credential must be one the table has", () => {
    const d = decide(policy, http("api.withorb.com", "POST", "/", { profile: "billing", credential: "orb-prod" }), { now: NOW });
    assert.equal(d.credential, "orb-prod");
    const none = decide(policy, http("api.withorb.com", "POST", "/", { profile: "billing", credential: "nope" }), { now: NOW });
    assert.equal(none.credential, undefined);
  });
});

describe("decide: fail-closed matrix", () => {
  const policy = policyOf(`${GATEWAY}
endpoint "https" "api" { hosts = ["api.example.com"] }
endpoint "postgres" "pg" { host = "db:5432" }
endpoint "postgres" "pg-norules" { host = "db2:5432" }
credential "bearer_token" "t" { endpoint = https.api }
credential "postgres_credential" "p" { endpoints = [postgres.pg, postgres.pg-norules] }
rule "archive" {
  endpoint  = https.api
  priority  = 10
  condition = "http.method == 'PATCH' && http.body_json.archived == true"
  verdict   = "deny"
  reason    = "no archiving"
}
rule "method-only" {
  endpoint  = https.api
  condition = "http.method == 'DELETE'"
  verdict   = "deny"
}
rule "db-dev-reads" {
  endpoint  = postgres.pg
  priority  = 10
  condition = "sql.verb == 'select' && sql.database == 'prod'"
  approve   = [builtin.dashboard]
}
rule "db-reads" {
  endpoint  = postgres.pg
  condition = "sql.verb in ['select', 'show']"
  verdict   = "allow"
}
profile "p" { credentials = [bearer_token.t, postgres_credential.p] }
`);
  const trunc: UnknownFacet[] = [
    { field: "http.body", cause: "truncated" },
    { field: "http.body_json", cause: "truncated" },
  ];
  it("a rule reading a truncated facet fails closed with the reference's reason", () => {
    const d = decide(policy, httpWith("api.example.com", { method: "patch", body_json: {} }, { unknown: trunc }), { now: NOW });
    assert.deepEqual(pick(d), ["deny", "archive", "https.api"]);
    assert.equal(d.reason, failClosedReason("archive", "truncated"));
    assert.equal(d.reason, 'rule "archive" could not be evaluated against this request (truncated at the inspection buffer); failing closed');
    assert.match(d.failClosed!.detail, /http\.body_json/);
  });
  it("absorption: a rule decided without the truncated facet evaluates normally", () => {
    assert.deepEqual(pick(decide(policy, httpWith("api.example.com", { method: "get" }, { unknown: trunc }), { now: NOW })), ["allow", "", "https.api"]);
    assert.deepEqual(pick(decide(policy, httpWith("api.example.com", { method: "delete" }, { unknown: trunc }), { now: NOW })), ["deny", "method-only", "https.api"]);
  });
  it("a runtime evaluation error fails closed without leaking the evaluator's message", () => {
    const d = decide(policy, httpWith("api.example.com", { method: "patch", body_json: { title: "x" } }), { now: NOW });
    assert.deepEqual(pick(d), ["deny", "archive", "https.api"]);
    assert.equal(d.reason, 'rule "archive" could not be evaluated against this request (evaluation error); failing closed');
    assert.doesNotMatch(d.reason!, /archived|key/);
    assert.match(d.failClosed!.detail, /archived/);
  });
  const unparseable: UnknownFacet[] = ["sql.verb", "sql.verbs", "sql.tables", "sql.functions", "op.class"].map((field) => ({ field, cause: "unparseable" as const }));
  const garbled = (database: string, host = "db:5432") =>
    decide(policy, sql(host, { verb: "", verbs: [], statement: "selec garbage", database }, { unknown: unparseable, opClass: undefined } as Partial<Action>), { now: NOW });
  it("unparseable SQL: U && false absorbs, then U alone fails closed", () => {
    const d = garbled("dev");
    assert.deepEqual(pick(d), ["deny", "db-reads", "postgres.pg"]);
    assert.equal(d.reason, failClosedReason("db-reads", "unparseable"));
  });
  it("unparseable SQL with every rule absorbed hits the backstop", () => {
    const p = policyOf(`${GATEWAY}
endpoint "postgres" "pg" { host = "db:5432" }
credential "postgres_credential" "p" { endpoint = postgres.pg }
rule "only-prod" {
  endpoint  = postgres.pg
  condition = "sql.database == 'prod' && sql.verb == 'drop'"
  verdict   = "deny"
}
profile "p" { credentials = [postgres_credential.p] }
`);
    const d = decide(p, sql("db:5432", { verb: "", statement: "???", database: "dev" }, { unknown: unparseable, opClass: undefined } as Partial<Action>), { now: NOW });
    assert.equal(d.verdict, "deny");
    assert.equal(d.rule, undefined);
    assert.match(d.reason!, /could not be fully inspected \(unparseable\) and no rule decided it; failing closed/);
  });
  it("an endpoint with no rules keeps pass-through even for unparseable SQL", () => {
    assert.deepEqual(pick(garbled("dev", "db2:5432")), ["allow", "", "postgres.pg-norules"]);
  });
  it("a matched approval on truncated SQL is denied without paging anyone", () => {
    const d = decide(
      policy,
      sql("db:5432", { verb: "select", database: "prod" }, { unknown: [{ field: "sql.statement", cause: "truncated" }] }),
      { now: NOW },
    );
    assert.deepEqual([d.verdict, d.rule, d.reason], ["deny", "db-dev-reads", TRUNCATED_APPROVAL_REASON]);
    assert.equal(d.approvers, undefined);
  });
});

describe("decide: context variables (op, agent, now)", () => {
  const policy = policyOf(`${GATEWAY}
defaults { timezone = "America/New_York" }
endpoint "https" "api" { hosts = ["api.example.com"] }
credential "bearer_token" "t" { endpoint = https.api }
rule "read-only-for-laptops" {
  endpoint  = https.api
  condition = "agent.device.startsWith('laptop-') && op.class != 'read'"
  verdict   = "deny"
  reason    = "laptops are read-only"
}
rule "business-hours" {
  endpoint  = https.api
  condition = "op.class in ['write', 'delete'] && (now.weekday in ['Saturday', 'Sunday'] || now.hour < 9 || now.hour >= 18)"
  verdict   = "deny"
  reason    = "no writes outside business hours"
}
rule "ci-profile-only" {
  endpoint  = https.api
  condition = "http.path.startsWith('/deploy') && agent.profile != 'ci'"
  verdict   = "deny"
}
profile "ci" { credentials = [bearer_token.t] }
profile "dev" { credentials = [bearer_token.t] }
`);
  const at = (iso: string, method: string, extra: Partial<Action> = {}) =>
    decide(policy, http("api.example.com", method, "/x", { profile: "dev", ...extra }), { now: new Date(iso) });
  it("op.class derives from the protocol", () => {
    assert.equal(at("2026-11-23T15:00:00Z", "DELETE", { device: "laptop-7" }).rule, "read-only-for-laptops");
    assert.equal(at("2026-11-23T15:00:00Z", "GET", { device: "laptop-7" }).verdict, "allow");
  });
  it("now.* uses defaults.timezone and the clock parameter", () => {
    // Monday 15:00 UTC = 10:00 in New York: business hours.
    assert.equal(at("2026-11-23T15:00:00Z", "POST").verdict, "allow");
    // Monday 13:00 UTC = 08:00 in New York.
    assert.equal(at("2026-11-23T13:00:00Z", "POST").rule, "business-hours");
    // Sunday noon in New York.
    assert.equal(at("2026-11-22T17:00:00Z", "PUT").rule, "business-hours");
  });
  it("agent.profile", () => {
    const deploy = (profile: string) => decide(policy, http("api.example.com", "GET", "/deploy/1", { profile }), { now: NOW });
    assert.equal(deploy("dev").rule, "ci-profile-only");
    assert.equal(deploy("ci").verdict, "allow");
  });
});

describe("decide: multi-statement SQL", () => {
  before(async () => initSqlAnalyzer());
  const policy = policyOf(`${GATEWAY}
endpoint "postgres" "pg" { host = "db:5432" }
credential "postgres_credential" "p" { endpoint = postgres.pg }
rule "no-ddl" {
  endpoint  = postgres.pg
  condition = "sql.verb in ['drop', 'truncate']"
  verdict   = "deny"
  reason    = "no DDL"
}
rule "no-deletes" {
  endpoint  = postgres.pg
  condition = "op.class == 'delete'"
  verdict   = "deny"
}
rule "writes" {
  endpoint  = postgres.pg
  condition = "op.class == 'write'"
  approve   = [builtin.dashboard]
}
profile "p" { credentials = [postgres_credential.p] }
`);
  const run = (text: string) =>
    combineStatementDecisions(
      statementViews(text, analyzeSql(text)).map((v) =>
        decide(policy, sql("db:5432", { ...v }, { ...(v.opClass ? { opClass: v.opClass } : { opClass: undefined }), ...(v.unknown ? { unknown: v.unknown } : {}) } as Partial<Action>), { now: NOW }),
      ),
    );
  it("any denied statement denies the query", () => {
    assert.deepEqual(pick(run("select 1; drop table users")!), ["deny", "no-ddl", "postgres.pg"]);
  });
  it("otherwise any approval makes the query wait for approval", () => {
    assert.deepEqual(pick(run("select 1; insert into t values (1)")!), ["approve", "writes", "postgres.pg"]);
  });
  it("a delete hidden in a CTE counts as a delete", () => {
    assert.deepEqual(pick(run("with d as (delete from t returning *) select * from d")!), ["deny", "no-deletes", "postgres.pg"]);
  });
  it("plain reads pass", () => {
    assert.deepEqual(pick(run("select * from users; show search_path")!), ["allow", "", "postgres.pg"]);
  });
});

describe("decide: approval on a truncated HTTP body", () => {
  it("is denied without paging anyone, like truncated SQL", () => {
    const policy = policyOf(`${GATEWAY}
endpoint "https" "api" { hosts = ["api.example.com"] }
credential "bearer_token" "t" { endpoint = https.api }
rule "uploads" {
  endpoint  = https.api
  condition = "http.method == 'POST'"
  approve   = [builtin.dashboard]
}
profile "p" { credentials = [bearer_token.t] }
`);
    const trunc: UnknownFacet[] = [
      { field: "http.body", cause: "truncated" },
      { field: "http.body_json", cause: "truncated" },
    ];
    const d = decide(policy, httpWith("api.example.com", { method: "post" }, { unknown: trunc }), { now: NOW });
    assert.deepEqual([d.verdict, d.rule, d.reason, d.approvers], ["deny", "uploads", TRUNCATED_APPROVAL_REASON, undefined]);
    assert.equal(decide(policy, httpWith("api.example.com", { method: "post" }), { now: NOW }).verdict, "approve");
  });
});

describe("settledVerdict", () => {
  it("maps every verdict but approve to allow / refuse with what the agent is told", () => {
    assert.deepEqual(settledVerdict({ verdict: "allow", rule: "r", reason: "fine" }), { allow: true, reason: "" });
    assert.deepEqual(settledVerdict({ verdict: "deny", rule: "no-writes", reason: "writes are not allowed" }), { allow: false, reason: "writes are not allowed" });
    assert.deepEqual(settledVerdict({ verdict: "deny", rule: "no-writes" }), { allow: false, reason: 'denied by rule "no-writes"' });
    assert.deepEqual(settledVerdict({ verdict: "passthrough" }), { allow: false, reason: "no endpoint claims this request" });
    assert.equal(settledVerdict({ verdict: "approve", rule: "ask" }), undefined, "approve goes to the approver chain");
  });
});
