import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { policyOf } from "../config/testing.js";
import { AddressClaims } from "./address-claims.js";
import { routeFlow } from "./dispatch-route.js";

const HCL = `
gateway {
  state_dir = "/tmp/clawpatrol-test"
  proxy {
    listen  = "127.0.0.1:1080"
    profile = "a"
  }
}
endpoint "postgres" "main" { host = "db.internal:5432" }
endpoint "postgres" "replica" { host = "replica.internal" }
endpoint "postgres" "twin" { host = "twin.internal:5432" }
endpoint "https" "api" { hosts = ["api.internal"] }
credential "postgres_credential" "main" {
  endpoint = postgres.main
  user     = "app"
}
credential "postgres_credential" "replica" {
  endpoint = postgres.replica
  user     = "app"
}
credential "postgres_credential" "twin" {
  endpoint = postgres.twin
  user     = "app"
}
credential "bearer_token" "api" { endpoint = https.api }
profile "a" { credentials = [postgres_credential.main, postgres_credential.replica, bearer_token.api] }
profile "b" { credentials = [postgres_credential.twin] }
profile "both" { credentials = [postgres_credential.main, postgres_credential.twin] }
`;

const DNS: Record<string, string[]> = {
  "db.internal": ["10.0.0.5", "10.0.0.6"],
  "replica.internal": ["10.0.0.7"],
  "twin.internal": ["10.0.0.5"],
  "api.internal": ["10.0.0.9"],
};

describe("address claims", async () => {
  const policy = policyOf(HCL);
  const failed: string[] = [];
  const claims = await AddressClaims.build(
    policy,
    async (h) => {
      if (!(h in DNS)) throw new Error("NXDOMAIN");
      return DNS[h]!;
    },
    (h) => failed.push(h),
  );
  const route = (profile: string, host: string, port: number) => routeFlow(policy, { profile, destination: { host, port } }, { kind: "not-tls" }, claims);

  it("claims every address of a postgres host on its port, dialing the configured name", () => {
    for (const ip of ["10.0.0.5", "10.0.0.6"]) {
      const r = route("a", ip, 5432);
      assert.equal(r.kind, "intercept");
      if (r.kind !== "intercept") return;
      assert.equal(r.endpoint.key, "postgres.main");
      assert.deepEqual(r.upstream, { host: "db.internal", port: 5432 });
    }
    assert.equal(route("a", "10.0.0.7", 5432).kind, "intercept", "default port 5432 applies");
  });

  it("does not claim other ports, TLS families, or other profiles' endpoints", () => {
    assert.equal(route("a", "10.0.0.5", 5433).kind, "relay");
    assert.equal(route("a", "10.0.0.9", 443).kind, "relay", "https endpoints are claimed by SNI only");
    assert.equal(route("a", "10.0.0.7", 5432).kind, "intercept");
    assert.equal(route("b", "10.0.0.7", 5432).kind, "relay", "profile b has no replica endpoint");
  });

  it("tells endpoints on one address apart by profile, and refuses when a profile has two", () => {
    const a = route("a", "10.0.0.5", 5432);
    const b = route("b", "10.0.0.5", 5432);
    assert.ok(a.kind === "intercept" && a.endpoint.key === "postgres.main");
    assert.ok(b.kind === "intercept" && b.endpoint.key === "postgres.twin");
    const both = route("both", "10.0.0.5", 5432);
    assert.equal(both.kind, "reject");
    assert.match(both.kind === "reject" ? both.reason : "", /postgres\.main, postgres\.twin/);
  });

  it("a name claim still wins and unresolvable names are reported", () => {
    const r = route("a", "db.internal", 5432);
    assert.ok(r.kind === "intercept" && r.upstream.host === "db.internal");
    assert.deepEqual(failed, []);
  });
});
