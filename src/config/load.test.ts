import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "./diagnostics.js";
import { loadConfig } from "./load.js";
import { loadPolicy } from "./policy.js";
import { errorsOf, GATEWAY, loadText, memIO } from "./testing.js";

const EP = `
endpoint "https" "github" { hosts = ["api.github.com"] }
credential "bearer_token" "gh" { endpoint = https.github }
profile "default" { credentials = [bearer_token.gh] }
`;

/** Asserts the config yields an error line matching each pattern (and at least one error). */
function expectErrors(hcl: string, ...patterns: RegExp[]): string[] {
  const errs = errorsOf(hcl);
  assert.ok(errs.length > 0, "expected errors, got none");
  for (const p of patterns) assert.ok(errs.some((e) => p.test(e)), `no error matches ${p}\n${errs.join("\n")}`);
  return errs;
}

describe("loader: a valid config", () => {
  it("loads with no diagnostics when schema_version is set", () => {
    const r = loadText(GATEWAY + EP);
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
    assert.ok(r.policy);
    assert.equal(r.config?.endpoints[0]?.name, "github");
    assert.equal(r.config?.credentials[0]?.endpoints[0]?.name, "github");
  });
  it("warns when schema_version is missing", () => {
    const r = loadPolicy("a.hcl", memIO({ "a.hcl": GATEWAY + EP }));
    assert.ok(r.policy);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.severity, d.summary]),
      [["warning", "Config schema_version not set"]],
    );
  });
});

describe("loader: one test per diagnostic class", () => {
  it("syntax errors carry file:line:col", () => {
    expectErrors(`${GATEWAY}\nendpoint "https" "x" {\n  hosts = [\n`, /^error: cfg\/gateway\.hcl:\d+:\d+: /);
  });
  it("unsupported argument, with a suggestion", () => {
    const errs = expectErrors(
      `${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  condtion = "true"\n  verdict = "allow"\n}\n`,
      /gateway\.hcl:15:3: Unsupported argument — An argument named "condtion" is not expected here\. Did you mean "condition"\?/,
    );
    assert.equal(errs.length, 1);
  });
  it("unsupported top-level argument", () => {
    expectErrors(`${GATEWAY}${EP}\nstate_dir = "/x"\n`, /Unsupported argument — An argument named "state_dir" is not expected at the top level/);
  });
  it("missing required argument points at the opening brace", () => {
    expectErrors(`${GATEWAY}${EP}\ncredential "header_token" "h" {\n}\n`, /gateway\.hcl:13:31: Missing required argument — The argument "header" is required/);
  });
  it("unsupported block type", () => {
    expectErrors(`${GATEWAY}${EP}\nendpoint "https" "y" {\n  hosts = ["y.com"]\n  tls {}\n}\n`, /gateway\.hcl:15:3: Unsupported block type — Blocks of type "tls" are not expected here/);
    expectErrors(`${GATEWAY}${EP}\nendpoints {}\n`, /Unsupported block type — Blocks of type "endpoints".*Did you mean "endpoint"/);
  });
  it("wrong value type", () => {
    expectErrors(`${GATEWAY}\nendpoint "https" "x" { hosts = "api.x.com" }\n`, /Incorrect attribute value type — Inappropriate value for attribute "hosts": list of string required, got string/);
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  priority = "high"\n  verdict = "deny"\n}\n`, /attribute "priority": whole number required/);
  });
  it("invalid enum value", () => {
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  verdict = "allw"\n}\n`, /Invalid value — "verdict" must be one of "allow", "deny"; got "allw"/);
  });
  it("function calls and operators are not evaluated", () => {
    expectErrors(`${GATEWAY}\nendpoint "https" "x" { hosts = [lower("A.com")] }\n`, /Function calls not supported/);
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  priority = 1 + 2\n  verdict = "deny"\n}\n`, /Unsupported expression/);
  });
  it("a quoted reference is rejected with the fix", () => {
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = "https.github"\n  verdict = "deny"\n}\n`, /Invalid reference — "endpoint" takes a reference, not a string: write https\.github without quotes/);
  });
  it("duplicate names within a kind; same name in two kinds is fine", () => {
    expectErrors(
      `${GATEWAY}${EP}\ncredential "bearer_token" "gh" {}\n`,
      /gateway\.hcl:13:1: Duplicate credential name "gh" — credential "gh" is already declared at cfg\/gateway\.hcl:10,1-31\. Names must be unique within a kind\./,
    );
    assert.deepEqual(errorsOf(`${GATEWAY}${EP}\nendpoint "https" "gh" { hosts = ["x.com"] }\n`), []);
  });
  it("duplicate singleton block", () => {
    expectErrors(`${GATEWAY}${EP}\ngateway {}\n`, /Duplicate gateway block/);
  });
  it("unknown plugin type, with the list of known ones", () => {
    expectErrors(`${GATEWAY}${EP}\ncredential "beerer_token" "x" {}\n`, /Unknown credential type "beerer_token" — Did you mean "bearer_token"\? Known credential types: .*bearer_token/);
  });
  it("wrong label count", () => {
    expectErrors(`${GATEWAY}${EP}\nendpoint "https" {}\n`, /Missing name for block/);
    expectErrors(`${GATEWAY}${EP}\nrule "a" "b" { }\n`, /Extraneous label for block/);
  });
  it("unknown variable for a bare name, suggesting the typed form", () => {
    expectErrors(
      `${GATEWAY}${EP}\nrule "r" {\n  endpoint = github\n  verdict = "deny"\n}\n`,
      /gateway\.hcl:14:14: Unknown variable — There is no variable named "github"\. References are typed: write https\.github\./,
    );
  });
  it("a reference of the wrong kind", () => {
    expectErrors(
      `${GATEWAY}${EP}\nrule "r" {\n  endpoint = bearer_token.gh\n  verdict = "deny"\n}\n`,
      /gateway\.hcl:13:1: Unknown endpoint "gh" — No endpoint named "gh" is declared in this file\. "bearer_token\.gh" is a credential/,
    );
  });
  it("a misspelled name, with a suggestion, and a wrong type segment", () => {
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.githb\n  verdict = "deny"\n}\n`, /Unknown endpoint "githb" — .*Did you mean https\.github\?/);
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = postgres.github\n  verdict = "deny"\n}\n`, /Unknown endpoint "github" — .*is of type https: write https\.github/);
  });
  it("a type name used alone is an invalid reference", () => {
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https\n  verdict = "deny"\n}\n`, /Invalid reference — A endpoint reference has the form|Invalid reference — An? endpoint reference has the form/);
  });
  it("rules: endpoint and endpoints both, or neither", () => {
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  endpoints = [https.github]\n  verdict = "deny"\n}\n`, /Conflicting arguments/);
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  verdict = "deny"\n}\n`, /gateway\.hcl:13:10: Missing required argument — Rule "r" needs "endpoint/);
  });
  it("rules: outcome is exactly one of verdict / approve", () => {
    expectErrors(`${GATEWAY}${EP}\nrule "r" { endpoint = https.github }\n`, /Rule "r" has no outcome/);
    expectErrors(
      `${GATEWAY}${EP}\napprover "human_approver" "ops" { channel = "#ops" }\nrule "r" {\n  endpoint = https.github\n  verdict = "allow"\n  approve = [human_approver.ops]\n}\n`,
      /Rule "r" sets both verdict and approve/,
    );
    expectErrors(`${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  approve = []\n}\n`, /empty approve chain/);
  });
  it("rules: object-form approve stages", () => {
    expectErrors(
      `${GATEWAY}${EP}\napprover "human_approver" "ops" { channel = "#ops" }\nrule "r" {\n  endpoint = https.github\n  approve = [{ name = human_approver.ops }]\n}\n`,
      /gateway\.hcl:14:1: Rule "r" approve stage must be a bare-name reference — Each stage is a bare approver name/,
    );
  });
  it("rules: mixed families", () => {
    expectErrors(
      `${GATEWAY}${EP}\nendpoint "postgres" "db" { host = "db:5432" }\nrule "r" {\n  endpoints = [https.github, postgres.db]\n  verdict = "deny"\n}\n`,
      /Rule "r" targets endpoints from mixed families — Endpoints span families \[http sql\]/,
    );
  });
  it("rules: invalid CEL and wrong-family variables point at the rule", () => {
    expectErrors(
      `${GATEWAY}${EP}\nrule "r" {\n  endpoint = https.github\n  condition = "sql.verb == 'drop'"\n  verdict = "deny"\n}\n`,
      /gateway\.hcl:13:1: Invalid CEL condition on rule "r" — cel compile: ERROR: <input>:1:1: undeclared reference to 'sql'/,
    );
  });
  it("credentials: endpoint and endpoints together", () => {
    expectErrors(
      `${GATEWAY}${EP}\ncredential "bearer_token" "x" {\n  endpoint = https.github\n  endpoints = [https.github]\n}\n`,
      /Conflicting arguments — Set either "endpoint" or "endpoints"/,
    );
  });
  it("profiles: missing credentials, bad entries", () => {
    expectErrors(`${GATEWAY}${EP}\nprofile "p" {\n  endpoints = [https.github]\n}\n`, /Missing required argument — The argument "credentials" is required/, /Unsupported argument — An argument named "endpoints"/);
    expectErrors(`${GATEWAY}${EP}\nprofile "p" {\n  credentials = [{ placehold = "PH", credential = bearer_token.gh }]\n}\n`, /Unsupported profile entry key.*Did you mean "placeholder"/);
    expectErrors(`${GATEWAY}${EP}\nprofile "p" {\n  credentials = [{ placeholder = "PH" }]\n}\n`, /Missing credential in profile entry/);
  });
  it("profiles: a discriminator the credential type does not understand", () => {
    expectErrors(
      `${GATEWAY}${EP}\nprofile "p" {\n  credentials = [{ user = "u", credential = bearer_token.gh }]\n}\n`,
      /Profile "p": user cannot select credential "gh"/,
    );
  });
  it("profiles: ambiguous fallback credentials and indistinguishable ones", () => {
    expectErrors(
      `${GATEWAY}${EP}\ncredential "bearer_token" "gh2" { endpoint = https.github }\nprofile "p" { credentials = [bearer_token.gh, bearer_token.gh2] }\n`,
      /Profile "p": multiple no-constraint credentials bind endpoint "github"/,
    );
    expectErrors(
      `${GATEWAY}${EP}\ncredential "bearer_token" "gh2" { endpoint = https.github }\nprofile "p" {\n  credentials = [\n    { placeholder = "PH", credential = bearer_token.gh },\n    { placeholder = "PH", credential = bearer_token.gh2 },\n  ]\n}\n`,
      /indistinguishable at endpoint "github"/,
    );
  });
  it("profiles: two endpoints claiming one host:port", () => {
    expectErrors(
      `${GATEWAY}${EP}\nendpoint "https" "gh2" { hosts = ["API.github.com:443"] }\ncredential "bearer_token" "x" { endpoint = https.gh2 }\nprofile "p" { credentials = [bearer_token.gh, bearer_token.x] }\n`,
      /Profile "p": host "api\.github\.com:443" is claimed by several endpoints/,
    );
  });
  it("file includes: allowed only where documented, and must exist", () => {
    const ok = loadText(
      `${GATEWAY}\nendpoint "kubernetes" "k" {\n  server = "10.0.0.1"\n  ca_cert = "<<file:ca.pem>>"\n}\n`,
      { "cfg/ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
    );
    assert.equal(ok.config?.endpoints[0]?.block.fields.ca_cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    expectErrors(`${GATEWAY}\nendpoint "kubernetes" "k" {\n  server = "10.0.0.1"\n  ca_cert = "<<file:missing.pem>>"\n}\n`, /Cannot read included file — "ca_cert" includes "missing\.pem" \(resolved to .*cfg\/missing\.pem\)/);
    expectErrors(`${GATEWAY}${EP}\napprover "human_approver" "h" { channel = "<<file:x>>" }\n`, /File inclusion not allowed here/);
  });
  it("secret templates: only where documented", () => {
    expectErrors(`${GATEWAY}${EP}\napprover "human_approver" "h" { channel = "{{secret:CHAN}}" }\n`, /Secret reference not allowed here/);
    const ok = loadText(
      `${GATEWAY}\ntunnel "local_command" "t" {\n  command = ["proxy"]\n  listen = "127.0.0.1:5433"\n  env = { TOKEN = "{{secret:PROXY_TOKEN}}" }\n}\n`,
    );
    assert.deepEqual(ok.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic), []);
  });
  it("schema_version: too new is the only error", () => {
    const r = loadPolicy("a.hcl", memIO({ "a.hcl": `schema_version = 7\ngateway {\n  future_thing = 1\n}\nbogus {}\n` }));
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
      "error: Config schema_version too new — schema_version = 7, but this clawpatrol understands up to 1. Upgrade clawpatrol to load this config.",
    ]);
  });
  it("schema_version: not a positive whole number", () => {
    expectErrors(`schema_version = "one"\n${GATEWAY}${EP}`, /Invalid schema_version/);
  });
  it("gateway-level checks (no transport)", () => {
    expectErrors(`gateway {\n  state_dir = "/x"\n}\n${EP}`, /^error: No transport enabled/);
  });
  it("reports independent problems from all blocks in one run", () => {
    const errs = errorsOf(
      `${GATEWAY}${EP}\nendpoint "https" "a" { hostz = ["a.com"] }\ncredential "nope" "b" {}\nrule "r" {\n  endpoint = https.github\n  condition = "http.method =="\n  verdict = "deny"\n}\nprofile "p" { credentials = [bearer_token.missing] }\n`,
    );
    for (const p of [/"hostz"/, /Unknown credential type "nope"/, /Invalid CEL condition on rule "r"/, /Unknown credential "missing"/]) {
      assert.ok(errs.some((e) => p.test(e)), `no ${p} in\n${errs.join("\n")}`);
    }
  });
});

describe("loader: directories", () => {
  const files = {
    "conf/10-gateway.hcl": `schema_version = 1\n${GATEWAY}`,
    "conf/20-github.hcl": `endpoint "https" "github" { hosts = ["api.github.com"] }\ncredential "bearer_token" "gh" { endpoint = https.github }\n`,
    "conf/30-rules.hcl": `rule "b" {\n  endpoint = https.github\n  verdict = "deny"\n}\nprofile "default" { credentials = [bearer_token.gh] }\n`,
    "conf/notes.txt": "not config",
    "conf/sub/ignored.hcl": "this is not parsed {",
  };
  it("loads direct *.hcl children in name order, resolving across files", () => {
    const r = loadPolicy("conf", memIO(files));
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(r.files, ["conf/10-gateway.hcl", "conf/20-github.hcl", "conf/30-rules.hcl"]);
    assert.equal(r.policy?.endpoints.get("github")?.rules[0]?.name, "b");
  });
  it("positions name the file they are in", () => {
    const r = loadPolicy("conf", memIO({ ...files, "conf/40-bad.hcl": `rule "x" {\n  endpoint = https.nothere\n  verdict = "deny"\n}\n` }));
    assert.ok(r.diagnostics.some((d) => d.range?.file === "conf/40-bad.hcl" && d.range.start.line === 1 && /Unknown endpoint "nothere"/.test(d.summary)));
  });
  it("a singleton block may appear in one file only", () => {
    const r = loadPolicy("conf", memIO({ ...files, "conf/50-more.hcl": GATEWAY }));
    assert.ok(r.diagnostics.some((d) => d.summary === "Duplicate gateway block" && d.range?.file === "conf/50-more.hcl"));
  });
  it("an empty directory and a missing path are errors", () => {
    assert.match(formatDiagnostic(loadConfig("empty", memIO({ "empty/x.txt": "" })).diagnostics[0]!), /No config files/);
    assert.match(formatDiagnostic(loadConfig("nope.hcl", memIO({})).diagnostics[0]!), /Cannot read config file/);
  });
});
