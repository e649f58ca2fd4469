import { test } from "node:test";
import assert from "node:assert/strict";
import { FAMILIES } from "../policy/action.js";
import type { FieldSpec, FieldType } from "./schema.js";
import {
  BUILTIN_APPROVERS,
  allTypeNames,
  PLUGIN_KINDS,
  SPECS,
  approverType,
  credentialType,
  endpointType,
  fieldsOf,
  specFor,
  specsOf,
  tunnelType,
  typesOf,
} from "./registry.js";
import { CREDENTIAL_LOADER_FIELDS } from "./common.js";

const SCALARS = new Set(["string", "bool", "int", "number", "list<string>", "map<string,string>"]);
const REF_KINDS = new Set(["endpoint", "credential", "approver", "tunnel"]);

function validType(t: FieldType): boolean {
  if (typeof t === "string") return SCALARS.has(t);
  if ("ref" in t) return REF_KINDS.has(t.ref);
  return REF_KINDS.has(t.list.ref);
}

function checkField(where: string, name: string, f: FieldSpec): void {
  assert.match(name, /^[a-z][a-z0-9_]*$/, `${where}: field name ${name}`);
  assert.ok(validType(f.type), `${where}.${name}: invalid type ${JSON.stringify(f.type)}`);
  assert.ok(f.doc.trim().length >= 10, `${where}.${name}: missing doc`);
  if (f.enum) {
    assert.equal(f.type, "string", `${where}.${name}: enum on a non-string`);
    assert.ok(f.enum.length > 0);
    if (f.default !== undefined) assert.ok(f.enum.includes(String(f.default)), `${where}.${name}: default outside enum`);
  }
  if (f.fileInclude || f.secretTemplate) {
    assert.ok(f.type === "string" || f.type === "list<string>" || f.type === "map<string,string>", `${where}.${name}: template on non-string`);
  }
  if (f.required) assert.equal(f.default, undefined, `${where}.${name}: required field with a default`);
}

test("every spec field has a doc and a valid type", () => {
  for (const spec of SPECS) {
    const where = `${spec.kind} "${spec.type}"`;
    assert.ok(spec.doc.trim().length >= 20, `${where}: missing doc`);
    for (const [name, f] of Object.entries(fieldsOf(spec))) checkField(where, name, f);
    for (const [bname, b] of Object.entries(spec.blocks ?? {})) {
      assert.ok(b.doc.trim().length >= 10, `${where} block ${bname}: missing doc`);
      for (const [name, f] of Object.entries(b.fields)) checkField(`${where}.${bname}`, name, f);
    }
  }
});

test("the loader-interpreted credential fields are not redeclared by types", () => {
  for (const spec of specsOf("credential")) {
    for (const name of Object.keys(CREDENTIAL_LOADER_FIELDS)) {
      assert.ok(!(name in spec.fields), `credential "${spec.type}" declares loader field ${name}`);
    }
    assert.ok("endpoint" in fieldsOf(spec) && "endpoints" in fieldsOf(spec) && "placeholder" in fieldsOf(spec));
  }
});

test("endpoint specs: family, tunnel ref, no credential binding fields (inverted grammar)", () => {
  for (const spec of specsOf("endpoint")) {
    assert.ok(FAMILIES.includes(spec.family), spec.type);
    assert.deepEqual(spec.fields["tunnel"]?.type, { ref: "tunnel" }, spec.type);
    assert.ok(!("credential" in spec.fields) && !("credentials" in spec.fields), `${spec.type} accepts old-grammar credential`);
  }
  const families = Object.fromEntries(specsOf("endpoint").map((s) => [s.type, s.family]));
  assert.deepEqual(families, {
    clickhouse_https: "sql",
    clickhouse_native: "sql",
    https: "http",
    kubernetes: "k8s",
    openai_codex_https: "http",
    postgres: "sql",
    ssh: "ssh",
  });
});

test("credential discriminators per type", () => {
  const httpAuth = [
    "anthropic_manual_key",
    "anthropic_oauth_subscription",
    "basic_auth",
    "bearer_token",
    "cookie_token",
    "discord_bot_token",
    "gemini_api_key",
    "github_oauth",
    "header_token",
    "notion_mcp_oauth",
    "notion_oauth",
    "openai_codex_oauth",
    "slack_tokens",
    "telegram_bot_token",
  ];
  for (const t of httpAuth) assert.deepEqual(credentialType(t)?.discriminators, ["placeholder"], t);
  assert.deepEqual(credentialType("postgres_credential")?.discriminators, ["user", "database", "placeholder"]);
  assert.deepEqual(credentialType("clickhouse_credential")?.discriminators, ["user", "database"]);
  assert.deepEqual(credentialType("ssh_key")?.discriminators, ["user"]);
  for (const t of ["aws_credential", "mtls_credential", "google_gke_credential", "passthrough", "tailscale_auth"]) {
    assert.deepEqual(credentialType(t)?.discriminators, [], t);
  }
  // Non-placeholder discriminators are block fields of the type itself.
  for (const spec of specsOf("credential")) {
    for (const d of spec.discriminators) if (d !== "placeholder") assert.ok(d in spec.fields, `${spec.type}.${d}`);
  }
});

test("lookups, aliases and did-you-mean lists", () => {
  assert.equal(endpointType("https")?.type, "https");
  assert.equal(endpointType("http"), undefined);
  assert.equal(credentialType("ssh"), credentialType("ssh_key"));
  assert.equal(credentialType("tailscale"), credentialType("tailscale_auth"));
  assert.equal(approverType("llm_approver")?.type, "llm_approver");
  assert.equal(tunnelType("tailscale")?.kind, "tunnel");
  assert.equal(specFor("credential", "bearer_token")?.kind, "credential");
  assert.equal(specFor("endpoint", "bearer_token"), undefined);
  assert.deepEqual(typesOf("approver"), ["human_approver", "llm_approver"]);
  assert.deepEqual(typesOf("tunnel"), ["kubernetes_port_forward", "local_command", "ssh_port_forward", "tailscale"]);
  assert.ok(typesOf("credential").includes("ssh") && typesOf("credential").includes("ssh_key"));
  const required = [
    "anthropic_manual_key", "anthropic_oauth_subscription", "aws_credential", "bearer_token", "clickhouse_credential",
    "cookie_token", "discord_bot_token", "gemini_api_key", "github_oauth", "google_gke_credential", "header_token",
    "mtls_credential", "notion_mcp_oauth", "notion_oauth", "openai_codex_oauth", "postgres_credential", "slack_tokens",
    "ssh_key", "ssh", "tailscale", "telegram_bot_token",
  ];
  for (const t of required) assert.ok(credentialType(t), t);
  for (const k of PLUGIN_KINDS) assert.deepEqual(typesOf(k), [...typesOf(k)].sort());
  assert.deepEqual(BUILTIN_APPROVERS, ["dashboard"]);
  const all = allTypeNames();
  for (const t of ["https", "bearer_token", "ssh", "human_approver", "local_command"]) assert.ok(all.has(t), t);
  assert.ok(!all.has("rule"));
});

test("required fields per the reference", () => {
  const req = (spec: { fields: Record<string, FieldSpec> }) =>
    Object.entries(spec.fields).filter(([, f]) => f.required).map(([n]) => n).sort();
  assert.deepEqual(req(endpointType("https")!), ["hosts"]);
  assert.deepEqual(req(endpointType("postgres")!), ["host"]);
  assert.deepEqual(req(endpointType("kubernetes")!), []);
  assert.deepEqual(req(credentialType("header_token")!), ["header"]);
  assert.deepEqual(req(credentialType("basic_auth")!), ["username"]);
  assert.deepEqual(req(approverType("human_approver")!), ["channel"]);
  assert.deepEqual(req(approverType("llm_approver")!), ["credential", "model"]);
  assert.deepEqual(req(tunnelType("local_command")!), ["command", "listen"]);
  assert.deepEqual(req(tunnelType("ssh_port_forward")!), ["credential", "user"]);
  assert.deepEqual(req(tunnelType("kubernetes_port_forward")!), ["port"]);
  assert.equal(approverType("llm_approver")!.fields["policy"]?.type, "string");
  assert.ok(endpointType("kubernetes")!.fields["ca_cert"]?.fileInclude);
  assert.ok(endpointType("https")!.fields["ca_cert"]?.fileInclude);
  assert.ok(tunnelType("kubernetes_port_forward")!.fields["ca_cert"]?.fileInclude);
  assert.deepEqual(tunnelType("local_command")!.fields["share"]?.enum, ["singleton", "per_endpoint", "per_conn"]);
  assert.deepEqual(endpointType("postgres")!.fields["sslmode"]?.enum, ["disable", "prefer", "require", "verify-full"]);
});
