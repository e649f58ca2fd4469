import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "../config/diagnostics.js";
import { loadText, policyOf } from "../config/testing.js";
import { blockRuleFor, celString, hclString } from "./block-rule.js";
import { initSqlAnalyzer } from "./sql/analyze.js";
import { BASE_HCL, basePolicy, httpRow, k8sRow, sqlRow, sshRow, stored, withHcl } from "./replay-testkit.js";
import type { CompiledPolicy } from "./compiled.js";
import type { NewAction } from "../store/actions.js";

before(() => initSqlAnalyzer());

/** Appends the preview to the config; the result must load without errors. */
function applied(hcl: string, base = BASE_HCL): CompiledPolicy {
  const r = loadText(`${base}\n${hcl}`);
  const errors = r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  assert.deepEqual(errors, [], `the preview must load:\n${hcl}`);
  return r.policy!;
}

const HOSTILE = `a"b\\c'd\n\${env}%{if x}\t\u0001é😀`;

describe("blockRuleFor", () => {
  const policy = basePolicy();
  const verdictOf = (row: NewAction) => [row.verdict, row.rule];

  it("http: blocks method + exact path at the endpoint, outranking the allow rule", () => {
    const [row] = stored([httpRow(policy, "GET", "/repos/acme/secret?x=1")]);
    assert.deepEqual(verdictOf(row!), ["allow", "gh-reads"]);
    const p = blockRuleFor(row!, policy);
    assert.equal(p.name, "block-http-1");
    assert.equal(p.endpoint, "https.github");
    assert.equal(p.condition, `http.method == "get" && http.path == "/repos/acme/secret"`);
    assert.match(p.description, /GET \/repos\/acme\/secret on https\.github/);
    const next = applied(p.hcl);
    assert.deepEqual(verdictOf(httpRow(next, "GET", "/repos/acme/secret?x=2")), ["deny", "block-http-1"]);
    assert.deepEqual(verdictOf(httpRow(next, "GET", "/repos/acme/other")), ["allow", "gh-reads"]);
    assert.deepEqual(verdictOf(httpRow(next, "HEAD", "/repos/acme/secret")), ["allow", "gh-reads"]);
  });

  it("picks a name no rule has", () => {
    const taken = withHcl(`rule "block-http-1" {\n  endpoint = https.github\n  condition = "false"\n  verdict = "deny"\n}`);
    const p = blockRuleFor(stored([httpRow(policy, "GET", "/x")])[0]!, policyOf(taken));
    assert.equal(p.name, "block-http-2");
    applied(p.hcl, taken);
  });

  it("hostile values survive both CEL and HCL escaping and match exactly", () => {
    const hostileRow = stored([httpRow(policy, "GET", "/x")])[0]!;
    (hostileRow.facets["http"] as { path: string }).path = `/p/${HOSTILE}`;
    const p = blockRuleFor(hostileRow, policy);
    const next = applied(p.hcl);
    const again = stored([httpRow(next, "GET", "/x")])[0]!;
    assert.deepEqual(verdictOf(again), ["allow", "gh-reads"], "a different path is still allowed");
    const rule = next.endpoints.get("github")!.rules.find((r) => r.name === p.name)!;
    const run = (path: string) => rule.condition.run({ http: { method: "get", path, query: {}, headers: {}, body: "", body_json: {} } });
    assert.equal(run(`/p/${HOSTILE}`), true);
    assert.equal(run(`/p/${HOSTILE.replace("${", "$")}`), false);

    const cmd = `echo "hi" \\ $HOME\n\${x} %{y} 'q' ${HOSTILE}`;
    const sshP = blockRuleFor(stored([sshRow(policy, { verb: "exec", command: cmd })])[0]!, policy);
    const sshNext = applied(sshP.hcl);
    assert.deepEqual(verdictOf(sshRow(sshNext, { verb: "exec", command: cmd })), ["deny", "block-ssh-1"]);
    assert.deepEqual(verdictOf(sshRow(sshNext, { verb: "exec", command: "echo hi" })), ["allow", "ssh-exec"]);
  });

  it("k8s: verb + resource + namespace", () => {
    const row = stored([k8sRow(policy, "GET", "/api/v1/namespaces/prod/secrets/db")])[0]!;
    const p = blockRuleFor(row, policy);
    assert.equal(p.condition, `k8s.verb == "get" && k8s.resource == "secrets" && k8s.namespace == "prod"`);
    const next = applied(p.hcl);
    assert.deepEqual(verdictOf(k8sRow(next, "GET", "/api/v1/namespaces/prod/secrets/other")), ["deny", "block-k8s-1"]);
    assert.deepEqual(verdictOf(k8sRow(next, "GET", "/api/v1/namespaces/dev/secrets/db")), ["allow", "k8s-reads"]);
  });

  it("sql: verb + tables", () => {
    const row = stored([sqlRow(policy, "DELETE FROM audit_log WHERE id = 1")])[0]!;
    const p = blockRuleFor(row, policy);
    assert.equal(p.condition, `sql.verb == "delete" && "audit_log" in sql.tables`);
    const next = applied(p.hcl);
    assert.deepEqual(verdictOf(sqlRow(next, "DELETE FROM audit_log WHERE id = 2")), ["deny", "block-sql-1"]);
    assert.deepEqual(verdictOf(sqlRow(next, "DELETE FROM sessions WHERE id = 2")), ["allow", ""]);
  });

  it("ssh: subsystem and forward targets", () => {
    const sftp = blockRuleFor(stored([sshRow(policy, { verb: "subsystem", subsystem: "sftp" })])[0]!, policy);
    assert.equal(sftp.condition, `ssh.verb == "subsystem" && ssh.subsystem == "sftp"`);
    const fwd = blockRuleFor(stored([sshRow(policy, { verb: "forward", forward_host: "db", forward_port: 5432 })])[0]!, policy);
    assert.equal(fwd.condition, `ssh.verb == "forward" && ssh.forward_host == "db" && ssh.forward_port == 5432`);
    const next = applied(fwd.hcl);
    assert.deepEqual(verdictOf(sshRow(next, { verb: "forward", forward_host: "db", forward_port: 5432 })), ["deny", "block-ssh-1"]);
    assert.deepEqual(verdictOf(sshRow(next, { verb: "forward", forward_host: "db", forward_port: 6379 })), ["allow", ""]);
  });

  it("refuses rows without an endpoint or facets", () => {
    const [row] = stored([{ time: 1, verdict: "passthrough", family: "http" }]);
    assert.throws(() => blockRuleFor(row!, policy), /not claimed by an endpoint/);
  });

  it("escapers", () => {
    assert.equal(celString(`a"b\\c\n`), `"a\\"b\\\\c\\n"`);
    assert.equal(hclString("${x} %{y} $${z}"), `"$\${x} %%{y} $$\${z}"`);
  });
});
