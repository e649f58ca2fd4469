import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { policyOf } from "../config/testing.js";
import { backtestRows, initReplay, recordedDecision } from "./backtest.js";
import { BASE_HCL, basePolicy, httpRow, k8sRow, sqlRow, sshRow, stored, withHcl } from "./replay-testkit.js";
import type { NewAction } from "../store/actions.js";

before(() => initReplay());

describe("backtestRows", () => {
  const policy = basePolicy();
  const history = (): NewAction[] => [
    httpRow(policy, "GET", "/user"),
    httpRow(policy, "DELETE", "/repos/a/b"),
    httpRow(policy, "POST", "/repos/a/b/issues", { body: '{"title":"hi"}' }),
    httpRow(policy, "PATCH", "/user", { headers: [["Authorization", "Bearer x"]] }),
    k8sRow(policy, "GET", "/api/v1/namespaces/prod/pods"),
    k8sRow(policy, "POST", "/api/v1/namespaces/prod/pods/web/exec?command=sh"),
    sqlRow(policy, "SELECT * FROM users"),
    sqlRow(policy, "DROP TABLE users"),
    sshRow(policy, { verb: "exec", command: "uname -a" }),
    sshRow(policy, { verb: "pty" }),
    { time: 5, verdict: "deny", family: "http", endpoint: "https.github", reason: "Host header does not match" },
  ];

  it("the same policy changes nothing; refused rows are skipped, not replayed", () => {
    const r = backtestRows(policyOf(BASE_HCL), stored(history()));
    assert.deepEqual(r.changed, []);
    assert.equal(r.replayed, 10);
    assert.equal(r.skipped, 1);
  });

  it("lists each changed verdict with before and after rule", () => {
    const candidate = policyOf(
      BASE_HCL.replace(`condition = "http.method == 'DELETE'"`, `condition = "http.method == 'PUT'"`).replace(
        `condition = "sql.verb in ['drop', 'truncate']"`,
        `condition = "sql.verb in ['drop', 'truncate', 'select']"`,
      ),
    );
    const rows = stored(history());
    const r = backtestRows(candidate, rows);
    assert.deepEqual(
      r.changed.map((c) => [c.summary, c.endpoint, c.before, c.after]),
      [
        ["DELETE /repos/a/b", "https.github", { verdict: "deny", rule: "gh-deletes" }, { verdict: "allow", rule: "" }],
        ["SELECT * FROM users", "postgres.pg", { verdict: "allow", rule: "" }, { verdict: "deny", rule: "pg-no-ddl" }],
      ],
    );
    assert.equal(r.changed[0]!.actionId, rows[1]!.id);
    assert.equal(r.changed[0]!.time, rows[1]!.time);
  });

  it("an approval the approvers granted still compares as approve", () => {
    const rows = stored(history());
    assert.equal(rows[2]!.verdict, "allow");
    assert.deepEqual(recordedDecision(rows[2]!), { verdicts: ["approve"], rule: "gh-issue-writes" });
    const candidate = policyOf(BASE_HCL.replace("approve   = [builtin.dashboard]", 'verdict = "allow"'));
    const r = backtestRows(candidate, rows);
    assert.deepEqual(r.changed.map((c) => [c.before.verdict, c.after.verdict, c.after.rule]), [["approve", "allow", "gh-issue-writes"]]);
  });

  it("rules reading facets the audit did not keep skip those rows instead of inventing a deny", () => {
    const candidate = policyOf(
      withHcl(`rule "no-secrets-in-body" {
  endpoint  = https.github
  priority  = 5
  condition = "http.body.contains('secret')"
  verdict   = "deny"
}`),
    );
    const rows = stored(history());
    const r = backtestRows(candidate, rows);
    // POST with a body: unknown outcome → skipped. Bodiless http rows: body "" is known, nothing changes.
    assert.deepEqual(r.changed, []);
    assert.equal(r.skipped, 2);
    assert.equal(r.replayed, 9);
  });

  it("a rule reading a lost facet after a definite match does not cost the row", () => {
    const candidate = policyOf(
      withHcl(`rule "ua" {
  endpoint  = https.github
  priority  = -50
  condition = "http.headers['User-Agent'][0] == 'evil'"
  verdict   = "deny"
}`),
    );
    // The PATCH had a masked Authorization header; no earlier rule matches it, so `ua` decides → skip.
    const r = backtestRows(candidate, stored(history()));
    assert.deepEqual(r.changed, []);
    assert.equal(r.skipped, 2);
  });

  it("a request's own truncation still fails closed in the replay", () => {
    const row = stored([httpRow(policy, "POST", "/repos/a/b/issues", { body: "{}" })])[0]!;
    row.facets["unknown"] = [{ field: "http.body", cause: "truncated" }, { field: "http.body_json", cause: "truncated" }];
    row.flags = ["inspection_truncated"];
    row.verdict = "deny";
    row.approvals = [];
    row.reason = "approval required but request was truncated by inspection buffer";
    const r = backtestRows(policyOf(BASE_HCL), [row]);
    assert.deepEqual([r.replayed, r.changed.length], [1, 0]);
  });

  it("a sampled SQL statement is decided on its stored facets unless a rule needs the text", () => {
    const long = `SELECT * FROM orders WHERE note = '${"x".repeat(300)}'`;
    const rows = stored([sqlRow(policy, long, 64)]);
    const byVerb = policyOf(withHcl(`rule "no-orders" {\n  endpoint = postgres.pg\n  condition = "'orders' in sql.tables"\n  verdict = "deny"\n}`));
    const r1 = backtestRows(byVerb, rows);
    assert.deepEqual(r1.changed.map((c) => [c.before.verdict, c.after.verdict, c.after.rule]), [["allow", "deny", "no-orders"]]);
    const byText = policyOf(withHcl(`rule "no-notes" {\n  endpoint = postgres.pg\n  condition = "sql.statement.contains('zzz')"\n  verdict = "deny"\n}`));
    assert.deepEqual(backtestRows(byText, rows), { replayed: 0, changed: [], skipped: 1 });
    // Nothing reads the text: the backstop does not count the sample as uninspected.
    assert.deepEqual(backtestRows(policyOf(BASE_HCL), rows), { replayed: 1, changed: [], skipped: 0 });
  });

  it("a statement denied for its sibling's sake is not an engine deny", () => {
    const row = stored([sqlRow(policy, "SELECT 1")])[0]!;
    row.verdict = "deny";
    row.reason = "another statement of the same query was denied: no";
    assert.deepEqual(backtestRows(policyOf(BASE_HCL), [row]).changed, []);
  });

  it("error rows were allowed; client-disconnected rows are skipped", () => {
    const [a, b] = stored([
      { ...sshRow(policy, { verb: "exec", command: "ls" }), verdict: "error", reason: "upstream refused" },
      { ...httpRow(policy, "GET", "/user"), verdict: "deny", flags: ["client_disconnected"] },
    ]);
    assert.deepEqual(backtestRows(policyOf(BASE_HCL), [a!, b!]), { replayed: 1, changed: [], skipped: 1 });
  });

  it("decides each row at its own time unless told otherwise", () => {
    const candidate = policyOf(withHcl(`rule "office-hours" {\n  endpoint = ssh.build\n  priority = 10\n  condition = "now.hour >= 18"\n  verdict = "deny"\n}`));
    const rows = stored([sshRow(policy, { verb: "exec", command: "ls" })]); // recorded 12:00 UTC
    assert.deepEqual(backtestRows(candidate, rows).changed, []);
    const late = backtestRows(candidate, rows, { now: new Date("2025-03-04T20:00:00Z") });
    assert.deepEqual(late.changed.map((c) => c.after.rule), ["office-hours"]);
  });

  it("an endpoint gone from the candidate resolves by host (here: nobody claims it)", () => {
    const candidate = policyOf(BASE_HCL.replace(/endpoint "ssh" "build"[^\n]*\n/, "").replace(/credential "ssh_key"[^\n]*\n/, "").replace(", ssh_key.build", "").replace(/rule "ssh-no-pty" \{[^}]*\}\n/, "").replace(/rule "ssh-exec" \{[^}]*\}\n/, ""));
    const rows = stored([sshRow(policy, { verb: "exec", command: "ls" })]);
    const r = backtestRows(candidate, rows);
    assert.deepEqual(r.changed.map((c) => [c.before.verdict, c.after.verdict, c.endpoint]), [["allow", "passthrough", "ssh.build"]]);
  });
});
