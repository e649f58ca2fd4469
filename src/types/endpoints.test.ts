import { test } from "node:test";
import assert from "node:assert/strict";
import type { DecodedValue, EndpointTypeSpec } from "./schema.js";
import { endpointType } from "./registry.js";
import { pluginBlock, ref, testContext } from "./testing.js";

function ep(type: string): EndpointTypeSpec {
  const spec = endpointType(type);
  assert.ok(spec, type);
  return spec;
}

function run(type: string, fields: Record<string, DecodedValue>, name = "x") {
  const spec = ep(type);
  const b = pluginBlock("endpoint", type, name, fields);
  return { hosts: spec.hostsOf(b), port: spec.defaultPort(b), diags: spec.validate?.(b, testContext) ?? [] };
}

test("https / openai_codex_https: hosts as written, default 443", () => {
  const r = run("https", { hosts: ["api.github.com", "github.com", "localhost:8443", "*.amazonaws.com"] });
  assert.deepEqual(r.hosts, ["api.github.com", "github.com", "localhost:8443", "*.amazonaws.com"]);
  assert.equal(r.port, 443);
  assert.deepEqual(r.diags, []);
  const c = run("openai_codex_https", { hosts: ["chatgpt.com"] });
  assert.deepEqual(c.hosts, ["chatgpt.com"]);
  assert.equal(c.port, 443);
});

test("postgres: the single host:port, default 5432", () => {
  const r = run("postgres", { host: "corp-prod.cluster.example:5432", sslmode: "require" });
  assert.deepEqual(r.hosts, ["corp-prod.cluster.example:5432"]);
  assert.equal(r.port, 5432);
  assert.deepEqual(r.diags, []);
  assert.deepEqual(run("postgres", { host: "db.internal" }).hosts, ["db.internal"]);
  assert.equal(run("postgres", { host: "*.db.internal:5432" }).diags[0]?.summary, 'Malformed host on endpoint "x"');
});

test("ssh: hosts with optional ports, default 22", () => {
  const r = run("ssh", { hosts: ["build.example.com:2222", "other.example.com"] });
  assert.deepEqual(r.hosts, ["build.example.com:2222", "other.example.com"]);
  assert.equal(r.port, 22);
  assert.deepEqual(r.diags, []);
});

test("kubernetes: server as IP, host or URL; hosts win when set; default 443", () => {
  assert.deepEqual(run("kubernetes", { server: "198.51.100.10" }).hosts, ["198.51.100.10"]);
  assert.deepEqual(run("kubernetes", { server: "k8s-dev.example" }).hosts, ["k8s-dev.example"]);
  assert.deepEqual(run("kubernetes", { server: "https://k8s.example.com:6443" }).hosts, ["k8s.example.com:6443"]);
  assert.deepEqual(run("kubernetes", { server: "https://k8s.example.com/" }).hosts, ["k8s.example.com"]);
  assert.deepEqual(run("kubernetes", { server: "https://k8s.example.com:443" }).hosts, ["k8s.example.com"]);
  assert.deepEqual(run("kubernetes", { server: "https://[2001:db8::1]:6443" }).hosts, ["[2001:db8::1]:6443"]);
  assert.deepEqual(run("kubernetes", { server: "10.0.0.1:6443" }).hosts, ["10.0.0.1:6443"]);
  const eks = run("kubernetes", {
    hosts: ["*.gr7.us-east-2.eks.amazonaws.com"],
    server: "https://ignored.example",
    cluster_name: "corp-prod",
    region: "us-east-2",
  });
  assert.deepEqual(eks.hosts, ["*.gr7.us-east-2.eks.amazonaws.com"]);
  assert.equal(eks.port, 443);
  assert.deepEqual(eks.diags, []);
  const none = run("kubernetes", {});
  assert.deepEqual(none.hosts, []); // the loader reports endpoints that claim nothing
  assert.deepEqual(none.diags, []);
  assert.equal(run("kubernetes", { server: "1.2.3.4", cluster_name: "c" }).diags[0]?.severity, "warning");
});

test("clickhouse: hosts plus port; native defaults to 9440 with tls and 9000 without", () => {
  assert.equal(run("clickhouse_native", { hosts: ["ch.example"] }).port, 9000);
  assert.equal(run("clickhouse_native", { hosts: ["ch.example"], tls: true }).port, 9440);
  assert.equal(run("clickhouse_native", { hosts: ["ch.example"], port: 9441, tls: true }).port, 9441);
  assert.deepEqual(run("clickhouse_native", { hosts: ["ch.example", "other:9440"], port: 9440 }).hosts, ["ch.example", "other:9440"]);
  assert.equal(run("clickhouse_https", { hosts: ["ch.example"] }).port, 443);
  assert.deepEqual(run("clickhouse_native", { hosts: ["ch.example"], port: 70000 }).diags.map((d) => d.summary), ["Invalid port"]);
});

test("clickhouse_native: accept_invalid_certificate without tls, reference wording at defRange", () => {
  const spec = ep("clickhouse_native");
  const b = pluginBlock("endpoint", "clickhouse_native", "bad-accept-invalid", {
    hosts: ["ch.example.com"],
    accept_invalid_certificate: true,
  });
  const diags = spec.validate!(b, testContext);
  assert.equal(diags.length, 1);
  assert.equal(diags[0]!.severity, "error");
  assert.equal(diags[0]!.summary, 'accept_invalid_certificate set without tls on clickhouse_native endpoint "bad-accept-invalid"');
  assert.equal(
    diags[0]!.detail,
    "accept_invalid_certificate only affects the upstream TLS handshake; set `tls = true` to enable TLS, or remove accept_invalid_certificate.",
  );
  assert.deepEqual(diags[0]!.range, b.defRange);
  const ok = pluginBlock("endpoint", "clickhouse_native", "ok", { hosts: ["ch.example.com:9440"], tls: true, accept_invalid_certificate: true });
  assert.deepEqual(spec.validate!(ok, testContext), []);
});

test("host entry checks: malformed and duplicate hosts", () => {
  const bad = run("https", { hosts: ["api.github.com", "API.github.com", "a b", "x.com:99999", "https://x.com", "foo*.x.com"] }, "gh");
  assert.deepEqual(
    bad.diags.map((d) => [d.summary, d.detail]),
    [
      ['Duplicate host on endpoint "gh"', 'hosts entry "API.github.com" appears more than once'],
      ['Malformed host on endpoint "gh"', 'hosts entry "a b": whitespace in host'],
      ['Malformed host on endpoint "gh"', 'hosts entry "x.com:99999": port 99999 out of range 1-65535'],
      ['Malformed host on endpoint "gh"', 'hosts entry "https://x.com": write a host name, not a URL'],
      ['Malformed host on endpoint "gh"', `hosts entry "foo*.x.com": '*' is only allowed as a whole leading label ("*.example.com")`],
    ],
  );
  assert.deepEqual(run("ssh", { hosts: ["[2001:db8::1]:22", "10.1.2.3", "h_1.internal"] }).diags, []);
  assert.equal(run("ssh", { hosts: ["*.internal"] }).diags.length, 1);
});

test("common endpoint fields: retention and tunnel", () => {
  assert.deepEqual(run("https", { hosts: ["a.example"], retention: "168h", tunnel: ref("tailscale", "ts") }).diags, []);
  assert.deepEqual(run("https", { hosts: ["a.example"], retention: "off" }).diags, []);
  assert.equal(run("https", { hosts: ["a.example"], retention: "1 week" }).diags[0]?.summary, "Invalid retention");
  assert.equal(run("https", { hosts: ["a.example"], retention: "-1h" }).diags[0]?.summary, "Invalid retention");
});

test("ca_cert that is not PEM is a warning; include markers are left alone", () => {
  assert.equal(run("kubernetes", { server: "1.2.3.4", ca_cert: "not a cert" }).diags[0]?.severity, "warning");
  assert.deepEqual(run("kubernetes", { server: "1.2.3.4", ca_cert: "<<file:ca.pem>>" }).diags, []);
  assert.deepEqual(
    run("https", { hosts: ["a.example"], ca_cert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" }).diags,
    [],
  );
});
