import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { actionFromRow, initReplay } from "./replay.js";
import { basePolicy, httpRow, k8sRow, sqlRow, sshRow, stored } from "./replay-testkit.js";
import type { ActionSummary } from "../store/actions.js";
import type { Action } from "./action.js";

before(() => initReplay());

function rebuilt(row: ActionSummary): { action: Action; lost: readonly string[] } {
  const r = actionFromRow(row);
  if ("skip" in r) throw new Error(`unexpected skip: ${r.skip}`);
  return r;
}

describe("actionFromRow", () => {
  const policy = basePolicy();

  it("rebuilds an http action with facets, profile, device and credential", () => {
    const [row] = stored([{ ...httpRow(policy, "GET", "/repos/a/b?x=1&x=2", { profile: "default" }), device: "laptop" }]);
    const { action, lost } = rebuilt(row!);
    assert.equal(action.family, "http");
    if (action.family !== "http") return;
    assert.deepEqual([action.http.method, action.http.path, { ...action.http.query }], ["get", "/repos/a/b", { x: ["1", "2"] }]);
    assert.deepEqual({ ...action.http.headers }, { "User-Agent": ["curl/8"] });
    assert.deepEqual([action.profile, action.device, action.credential], ["default", "laptop", "gh"]);
    assert.deepEqual(lost, []);
    assert.equal(action.unknown, undefined);
  });

  it("marks the body lost (unparseable, not truncated) only when the request had one", () => {
    const [withBody, without] = stored([httpRow(policy, "POST", "/repos/a/b/issues", { body: '{"title":"x"}' }), httpRow(policy, "POST", "/x")]);
    const a = rebuilt(withBody!);
    assert.deepEqual(a.lost, ["http.body", "http.body_json"]);
    assert.deepEqual(a.action.unknown, [
      { field: "http.body", cause: "unparseable" },
      { field: "http.body_json", cause: "unparseable" },
    ]);
    const b = rebuilt(without!);
    assert.deepEqual(b.lost, []);
    assert.ok(b.action.family === "http" && b.action.http.body === "" && JSON.stringify(b.action.http.body_json) === "{}");
  });

  it("marks headers lost when the audit masked one", () => {
    const [row] = stored([httpRow(policy, "GET", "/user", { headers: [["Authorization", "Bearer PH_x"], ["Accept", "*/*"]] })]);
    assert.deepEqual((row!.facets["http"] as { headers: Record<string, string[]> }).headers["Authorization"], ["***"]);
    assert.deepEqual(rebuilt(row!).lost, ["http.headers"]);
  });

  it("keeps the request's own unknowns with their cause", () => {
    const row = stored([httpRow(policy, "POST", "/x")])[0]!;
    row.facets["unknown"] = [{ field: "http.body", cause: "truncated" }, { field: "http.body_json", cause: "truncated" }];
    row.bytesIn = 10_000_000;
    const { action, lost } = rebuilt(row);
    assert.deepEqual(lost, []);
    assert.deepEqual(action.unknown?.map((u) => u.cause), ["truncated", "truncated"]);
  });

  it("skips rows refused before the policy ran, and malformed facets", () => {
    const row = stored([{ time: 1, verdict: "deny", family: "http", facets: {}, reason: "Host header does not match" }])[0]!;
    assert.match((actionFromRow(row) as { skip: string }).skip, /facets not recorded/);
    const bad = stored([{ time: 1, verdict: "allow", family: "http", facets: { http: { method: 7 } } }])[0]!;
    assert.match((actionFromRow(bad) as { skip: string }).skip, /malformed/);
    const odd = stored([{ time: 1, verdict: "allow", family: "smtp", facets: { smtp: { x: 1 } } }])[0]!;
    assert.match((actionFromRow(odd) as { skip: string }).skip, /unknown family/);
  });

  it("k8s facets come back whole", () => {
    const [row] = stored([k8sRow(policy, "DELETE", "/apis/apps/v1/namespaces/prod/deployments/web")]);
    const { action, lost } = rebuilt(row!);
    assert.ok(action.family === "k8s");
    if (action.family !== "k8s") return;
    assert.deepEqual([action.k8s.verb, action.k8s.resource, action.k8s.namespace, action.k8s.name, action.k8s.group], ["delete", "deployments", "prod", "web", "apps"]);
    assert.deepEqual(lost, []);
  });

  it("re-analyses a complete SQL statement instead of trusting stored facets", () => {
    const row = stored([sqlRow(policy, "DROP TABLE users")])[0]!;
    (row.facets["sql"] as Record<string, unknown>)["verb"] = "select"; // stale or tampered stored analysis
    const { action, lost } = rebuilt(row);
    assert.ok(action.family === "sql");
    if (action.family !== "sql") return;
    assert.deepEqual([action.sql.verb, action.sql.tables, action.sql.database, action.opClass], ["drop", ["users"], "app", "delete"]);
    assert.deepEqual(lost, []);
    // A denied statement records no credential: the database is the dispatch hint instead.
    assert.deepEqual([action.credential, action.dispatch], [undefined, { database: "app" }]);
  });

  it("a sampled SQL statement keeps the stored facets and loses the text", () => {
    const long = `SELECT * FROM orders WHERE note = '${"x".repeat(200)}'`;
    const row = stored([sqlRow(policy, long, 40)])[0]!;
    const { action, lost } = rebuilt(row);
    assert.ok(action.family === "sql");
    if (action.family !== "sql") return;
    assert.equal(action.sql.statement.length, 40);
    assert.deepEqual([action.sql.verb, action.sql.tables, action.opClass], ["select", ["orders"], "read"]);
    assert.deepEqual(lost, ["sql.statement"]);
  });

  it("ssh: stdin is lost when buffered, forward target is kept", () => {
    const [piped, fwd] = stored([sshRow(policy, { verb: "shell", stdin: "make test\n" }), sshRow(policy, { verb: "forward", forward_host: "db", forward_port: 5432 })]);
    assert.deepEqual(rebuilt(piped!).lost, ["ssh.stdin"]);
    const f = rebuilt(fwd!).action;
    assert.ok(f.family === "ssh" && f.ssh.forward_port === 5432 && f.ssh.forward_host === "db" && f.ssh.user === "ubuntu");
    assert.deepEqual(rebuilt(fwd!).lost, []);
  });
});
