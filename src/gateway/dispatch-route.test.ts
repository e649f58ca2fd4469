import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { policyOf } from "../config/testing.js";
import { routeFlow, shouldSniff, type FirstBytes, type Route } from "./dispatch-route.js";

const GW = `
gateway {
  state_dir = "/tmp/clawpatrol-test"
  proxy {
    listen  = "127.0.0.1:1080"
    profile = "default"
  }
}
`;
const BODY = `
endpoint "https" "gh" { hosts = ["api.github.com", "*.githubusercontent.com"] }
endpoint "https" "internal" { hosts = ["api.internal:8443"] }
endpoint "kubernetes" "k8s" { server = "https://10.0.0.1:6443" }
endpoint "kubernetes" "k8s443" { server = "10.0.0.2" }
endpoint "postgres" "db" { host = "db.example.test:5432" }
endpoint "https" "other_only" { hosts = ["api.other.test"] }
credential "bearer_token" "gh" { endpoint = https.gh }
credential "bearer_token" "internal" { endpoint = https.internal }
credential "bearer_token" "k8s" { endpoints = [kubernetes.k8s, kubernetes.k8s443] }
credential "postgres_credential" "db" {
  endpoint = postgres.db
  user     = "app"
}
credential "bearer_token" "other" { endpoint = https.other_only }
profile "default" { credentials = [bearer_token.gh, bearer_token.internal, bearer_token.k8s, postgres_credential.db] }
profile "other" { credentials = [bearer_token.other] }
`;
const passthrough = policyOf(`${GW}${BODY}`);
const deny = policyOf(`${GW}defaults { unknown_host = "deny" }\n${BODY}`);

const tls = (sni?: string): FirstBytes => (sni === undefined ? { kind: "tls", alpn: [] } : { kind: "tls", sni, alpn: ["http/1.1"] });
const NOT_TLS: FirstBytes = { kind: "not-tls" };
const UNSNIFFED: FirstBytes = { kind: "unsniffed" };

/** A compact view of a route: "intercept https.gh by sni → host:port", "unknown-host deny", ... */
function show(r: Route): string {
  switch (r.kind) {
    case "intercept":
      return `intercept ${r.endpoint.key} by ${r.claimedBy} → ${r.upstream.host}:${r.upstream.port}`;
    case "unknown-host":
      return `unknown-host ${r.action}`;
    case "relay":
      return "relay";
    case "reject":
      return "reject";
  }
}

describe("routeFlow", () => {
  const cases: [string, string, string, number, FirstBytes, string][] = [
    // [name, profile, host, port, first bytes, expected]
    ["443 SNI claimed (via proxy: destination is the name)", "default", "api.github.com", 443, tls("api.github.com"), "intercept https.gh by sni → api.github.com:443"],
    ["443 SNI claimed, destination an IP (WireGuard)", "default", "140.82.112.6", 443, tls("api.github.com"), "intercept https.gh by sni → api.github.com:443"],
    ["443 SNI claimed by a wildcard", "default", "198.51.100.7", 443, tls("raw.githubusercontent.com"), "intercept https.gh by sni → raw.githubusercontent.com:443"],
    ["SNI is case-insensitive", "default", "198.51.100.7", 443, tls("API.GitHub.com"), "intercept https.gh by sni → API.GitHub.com:443"],
    ["SNI claims, a hostile destination does not steer the upstream", "default", "evil.test", 443, tls("api.github.com"), "intercept https.gh by sni → api.github.com:443"],
    ["443 SNI unclaimed ⇒ unknown_host passthrough", "default", "example.org", 443, tls("example.org"), "unknown-host passthrough"],
    ["443 TLS without SNI, unclaimed IP ⇒ unknown_host", "default", "192.0.2.1", 443, tls(), "unknown-host passthrough"],
    ["443 non-TLS, unclaimed ⇒ relay", "default", "example.org", 443, NOT_TLS, "relay"],
    ["non-443 endpoint host:port ⇒ intercept (by destination)", "default", "api.internal", 8443, tls("api.internal"), "intercept https.internal by sni → api.internal:8443"],
    ["non-443 SNI claims on the endpoint's port, destination an IP", "default", "10.9.9.9", 8443, tls("api.internal"), "intercept https.internal by sni → api.internal:8443"],
    ["non-443 SNI unclaimed, destination unclaimed ⇒ relay", "default", "10.9.9.9", 8443, tls("example.org"), "relay"],
    ["endpoint host on a port it does not claim ⇒ relay", "default", "api.github.com", 8443, tls("api.github.com"), "relay"],
    ["random port ⇒ relay", "default", "example.org", 8080, UNSNIFFED, "relay"],
    ["kubernetes server IP:port without SNI ⇒ intercept", "default", "10.0.0.1", 6443, tls(), "intercept kubernetes.k8s by destination → 10.0.0.1:6443"],
    ["kubernetes server IP on 443 without SNI ⇒ intercept", "default", "10.0.0.2", 443, tls(), "intercept kubernetes.k8s443 by destination → 10.0.0.2:443"],
    ["claimed destination with an unclaimed SNI is still intercepted", "default", "10.0.0.2", 443, tls("evasive.test"), "intercept kubernetes.k8s443 by destination → 10.0.0.2:443"],
    ["postgres host:port ⇒ intercept (not sniffed)", "default", "db.example.test", 5432, UNSNIFFED, "intercept postgres.db by destination → db.example.test:5432"],
    ["postgres host on another port ⇒ relay", "default", "db.example.test", 5433, UNSNIFFED, "relay"],
    ["profile without the endpoint ⇒ not intercepted", "other", "api.github.com", 443, tls("api.github.com"), "unknown-host passthrough"],
    ["profile without the postgres endpoint ⇒ relay", "other", "db.example.test", 5432, UNSNIFFED, "relay"],
    ["the other profile's own endpoint", "other", "api.other.test", 443, tls("api.other.test"), "intercept https.other_only by sni → api.other.test:443"],
    ["unknown profile ⇒ reject", "ghost", "api.github.com", 443, tls("api.github.com"), "reject"],
  ];
  for (const [name, profile, host, port, first, want] of cases) {
    it(name, () => assert.equal(show(routeFlow(passthrough, { profile, destination: { host, port } }, first)), want));
  }

  it("unknown_host = deny refuses unclaimed TLS on 443 only", () => {
    const r = (host: string, port: number, first: FirstBytes) => show(routeFlow(deny, { profile: "default", destination: { host, port } }, first));
    assert.equal(r("example.org", 443, tls("example.org")), "unknown-host deny");
    assert.equal(r("192.0.2.1", 443, tls()), "unknown-host deny");
    assert.equal(r("example.org", 443, NOT_TLS), "relay");
    assert.equal(r("example.org", 8443, tls("example.org")), "relay");
    assert.equal(r("api.github.com", 443, tls("api.github.com")), "intercept https.gh by sni → api.github.com:443");
    assert.deepEqual(routeFlow(deny, { profile: "default", destination: { host: "x.test", port: 443 } }, tls("x.test")), {
      kind: "unknown-host",
      action: "deny",
      sni: "x.test",
    });
  });

  it("IPv6 destinations are looked up bracketed", () => {
    const p = policyOf(`${GW}
endpoint "kubernetes" "v6" { server = "https://[2001:db8::1]:6443" }
credential "bearer_token" "v6" { endpoint = kubernetes.v6 }
profile "default" { credentials = [bearer_token.v6] }
`);
    assert.equal(show(routeFlow(p, { profile: "default", destination: { host: "2001:db8::1", port: 6443 } }, tls())), "intercept kubernetes.v6 by destination → 2001:db8::1:6443");
  });
});

describe("shouldSniff", () => {
  const s = (profile: string, host: string, port: number) => shouldSniff(passthrough, { profile, destination: { host, port } });
  it("sniffs :443 and the ports TLS-family endpoints of the profile claim", () => {
    assert.equal(s("default", "anything.test", 443), true);
    assert.equal(s("default", "10.9.9.9", 8443), true); // https.internal claims :8443
    assert.equal(s("default", "10.0.0.1", 6443), true); // kubernetes.k8s
    assert.equal(s("default", "db.example.test", 5432), false); // postgres speaks its own protocol first
    assert.equal(s("default", "example.org", 80), false);
    assert.equal(s("other", "10.9.9.9", 8443), false); // not this profile's endpoint
    assert.equal(s("ghost", "x.test", 443), false); // rejected without reading
  });
});
