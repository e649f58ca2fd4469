import { test } from "node:test";
import assert from "node:assert/strict";
import type { DecodedSingleton, DecodedValue, PluginKind } from "./schema.js";
import { specFor } from "./registry.js";
import { pluginBlock, ref, singleton, testContext } from "./testing.js";

function check(kind: PluginKind, type: string, fields: Record<string, DecodedValue>, blocks?: Record<string, DecodedSingleton[]>) {
  const spec = specFor(kind, type);
  assert.ok(spec, `${kind} ${type}`);
  return spec.validate?.(pluginBlock(kind, type, "n", fields, blocks), testContext) ?? [];
}
const summaries = (ds: { summary: string }[]) => ds.map((d) => d.summary);

test("credentials: header names, cookie names, basic auth user", () => {
  assert.deepEqual(check("credential", "header_token", { header: "x-honeycomb-team" }), []);
  assert.deepEqual(summaries(check("credential", "header_token", { header: "x api key" })), ['Invalid header name on header_token credential "n"']);
  assert.deepEqual(check("credential", "cookie_token", { cookie_name: "session" }), []);
  assert.equal(check("credential", "cookie_token", {})[0]?.severity, "warning");
  assert.deepEqual(summaries(check("credential", "basic_auth", { username: "a:b" })), ['Invalid username on basic_auth credential "n"']);
});

test("human_approver: bounds, classifier kind, async grant with reference wording", () => {
  assert.deepEqual(check("approver", "human_approver", { channel: "#ops", timeout: 86400, require_approvers: 2 }), []);
  assert.deepEqual(summaries(check("approver", "human_approver", { channel: "#ops", timeout: 0 })), ["Invalid timeout"]);
  assert.deepEqual(summaries(check("approver", "human_approver", { channel: "#ops", require_approvers: 0 })), ["Invalid require_approvers"]);
  assert.deepEqual(
    summaries(check("approver", "human_approver", { channel: "#ops", classifier: ref("human_approver", "other") })),
    ['Invalid classifier on human_approver "n"'],
  );
  assert.deepEqual(check("approver", "human_approver", { channel: "#ops", classifier: ref("llm_approver", "c") }), []);
  assert.equal(check("approver", "human_approver", { channel: "#ops", interactive: true })[0]?.severity, "warning");

  const grant = (fields: Record<string, DecodedValue>) => ({ async_grant: [singleton(fields)] });
  assert.deepEqual(
    check("approver", "human_approver", { channel: "#deploy", timeout: 600, sync_wait_timeout: "90s" },
      grant({ enabled: true, approved_retry_ttl: "5m", fingerprint_body: "raw" })),
    [],
  );
  const bad = check("approver", "human_approver", { channel: "#d", sync_wait_timeout: "soon" },
    grant({ enabled: true, approved_retry_ttl: "0s", fingerprint_body: "json", max_body_bytes: 9 * 1024 * 1024 }));
  assert.deepEqual(
    bad.map((d) => [d.summary, d.detail]),
    [
      ["invalid sync_wait_timeout", 'approver "n": time: invalid duration "soon"'],
      ["async_grant.approved_retry_ttl must be positive", 'approver "n": approved_retry_ttl must be greater than zero.'],
      ["async_grant.fingerprint_body must be raw", 'approver "n": v1 supports only fingerprint_body = "raw", got "json".'],
      ["async_grant.max_body_bytes exceeds hard maximum", 'approver "n": max_body_bytes must be <= 8388608 in v1.'],
    ],
  );
  // A disabled grant is not checked, as in the reference.
  assert.deepEqual(check("approver", "human_approver", { channel: "#d" }, grant({ fingerprint_body: "json" })), []);
});

test("llm_approver: unknown model family is a warning", () => {
  assert.deepEqual(check("approver", "llm_approver", { model: "claude-haiku-4-5", credential: ref("bearer_token", "j") }), []);
  assert.deepEqual(check("approver", "llm_approver", { model: "gpt-5", credential: ref("bearer_token", "j") }), []);
  const d = check("approver", "llm_approver", { model: "gemini-2.5", credential: ref("bearer_token", "j") });
  assert.equal(d[0]?.severity, "warning");
});

test("tunnels: durations, addresses, targets", () => {
  assert.deepEqual(
    check("tunnel", "local_command", {
      command: ["cloud_sql_proxy", "--instances", "p:r:db=tcp:5432"],
      listen: "127.0.0.1:5432",
      ready_probe: "tcp",
      ready_timeout: "30s",
      share: "singleton",
      keepalive: "5m",
    }),
    [],
  );
  assert.deepEqual(
    summaries(check("tunnel", "local_command", { command: [], listen: "5432", ready_timeout: "thirty", keepalive: "forever" })),
    ['Empty command on local_command tunnel "n"', 'Invalid listen on local_command tunnel "n"', "Invalid ready_timeout", "Invalid keepalive"],
  );
  assert.deepEqual(check("tunnel", "local_command", { command: ["x"], listen: "127.0.0.1:1", keepalive: "always" }), []);
  assert.deepEqual(check("tunnel", "local_command", { command: ["x"], listen: "127.0.0.1:1", keepalive: "0" }), []);

  assert.deepEqual(check("tunnel", "ssh_port_forward", { bastion: "bastion.example:22", user: "deploy", credential: ref("ssh_key", "b") }), []);
  assert.deepEqual(check("tunnel", "ssh_port_forward", { user: "root", credential: ref("ssh", "b"), via: ref("kubernetes_port_forward", "k") }), []);
  assert.deepEqual(
    summaries(check("tunnel", "ssh_port_forward", { user: "root", credential: ref("bearer_token", "b") })),
    ['Missing bastion on ssh_port_forward tunnel "n"', 'Invalid credential on ssh_port_forward tunnel "n"'],
  );

  assert.deepEqual(check("tunnel", "kubernetes_port_forward", { context: "prod-eks", service: "postgres", port: 5432 }), []);
  assert.deepEqual(
    summaries(check("tunnel", "kubernetes_port_forward", { pod: "a", service: "b", port: 0 })),
    ['Ambiguous target on kubernetes_port_forward tunnel "n"', "Invalid port"],
  );
  assert.deepEqual(summaries(check("tunnel", "kubernetes_port_forward", { port: 22 })), ['Ambiguous target on kubernetes_port_forward tunnel "n"']);

  assert.deepEqual(check("tunnel", "tailscale", { hostname: "clawpatrol-tunnel-o11y" }), []);
  assert.equal(check("tunnel", "tailscale", { oauth_client_secret: "{{secret:TS}}" })[0]?.severity, "warning");
  assert.deepEqual(summaries(check("tunnel", "tailscale", { tags: ["client"] })), ['Invalid tag on tailscale tunnel "n"']);
});
