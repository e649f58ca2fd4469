import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openMemoryStore } from "../../../store/db.js";
import { AddressClaims, type AddressLookup } from "../../address-claims.js";
import { routeFlow, type Route } from "../../dispatch-route.js";
import { combineLookups, virtualAddressLookup, virtualAwareResolver } from "./lookup.js";
import { VirtualIps, virtualNamesOf } from "./virtual-ips.js";
import { fixturePolicy } from "./test-fixtures.js";

describe("virtual address lookup", async () => {
  const policy = fixturePolicy();
  const vips = new VirtualIps(openMemoryStore().settings);
  const ips = vips.sync(virtualNamesOf(policy));
  const vip = (name: string) => ips.get(name)!;
  // The real-address table, as gateway.ts builds it: db.internal also resolves to a real address.
  const real = await AddressClaims.build(policy, async (h) => (h === "db.internal" ? ["10.0.0.5"] : []));
  const lookup = combineLookups(virtualAddressLookup(() => policy, vips), real);
  const route = (profile: string, host: string, port: number, l: AddressLookup = lookup): Route =>
    routeFlow(policy, { profile, destination: { host, port } }, { kind: "not-tls" }, l);
  const intercepted = (r: Route) => (r.kind === "intercept" ? { endpoint: r.endpoint.key, upstream: r.upstream } : r.kind);

  it("claims virtualIp:port for the profile's endpoint on that port, dialing the configured name", () => {
    assert.deepEqual(intercepted(route("a", vip("db.internal"), 5432)), { endpoint: "postgres.main", upstream: { host: "db.internal", port: 5432 } });
    assert.deepEqual(intercepted(route("a", vip("box.internal"), 22)), { endpoint: "ssh.box", upstream: { host: "box.internal", port: 22 } });
    assert.deepEqual(intercepted(route("a", vip("ch.internal"), 9000)), { endpoint: "clickhouse_native.ch", upstream: { host: "ch.internal", port: 9000 } });
    assert.deepEqual(intercepted(route("a", vip("wiki.corp"), 443)), { endpoint: "https.wiki", upstream: { host: "wiki.corp", port: 443 } });
    assert.deepEqual(intercepted(route("b", vip("other.internal"), 5432)), { endpoint: "postgres.other", upstream: { host: "other.internal", port: 5432 } });
  });

  it("claims nothing on another port or for a profile without the endpoint", () => {
    assert.equal(route("a", vip("db.internal"), 5433).kind, "relay");
    assert.equal(route("a", vip("box.internal"), 2222).kind, "relay");
    assert.equal(route("b", vip("db.internal"), 5432).kind, "relay", "profile b has no postgres.main");
    assert.equal(route("a", vip("other.internal"), 5432).kind, "relay", "profile a has no postgres.other");
    assert.equal(route("nobody", vip("db.internal"), 5432).kind, "reject");
    assert.equal(route("a", "100.80.255.254", 5432).kind, "relay", "an unassigned virtual address claims nothing");
  });

  it("combines with the real-address table without counting one endpoint twice", () => {
    assert.deepEqual(intercepted(route("a", "10.0.0.5", 5432)), { endpoint: "postgres.main", upstream: { host: "db.internal", port: 5432 } });
    const twice = combineLookups(lookup, lookup, undefined);
    assert.equal(twice.claimants("a", vip("db.internal"), 5432).length, 1);
    assert.equal(twice.claimants("a", "10.0.0.5", 5432).length, 1);
    assert.equal(combineLookups().claimants("a", "10.0.0.5", 5432).length, 0);
  });

  it("follows policy reloads (the policy is read per call)", () => {
    let current = policy;
    const l = virtualAddressLookup(() => current, vips);
    assert.equal(l.claimants("a", vip("db.internal"), 5432).length, 1);
    current = { ...policy, profiles: new Map([["b", policy.profiles.get("b")!]]) }; // profile a removed
    assert.equal(l.claimants("a", vip("db.internal"), 5432).length, 0);
  });
});

describe("virtualAwareResolver", () => {
  it("dials a virtual address as its name, refuses unassigned ones, passes everything else through", async () => {
    const vips = new VirtualIps(openMemoryStore().settings);
    const ip = vips.allocate("db.internal");
    const asked: string[] = [];
    const r = virtualAwareResolver({ resolve: async (h) => (asked.push(h), `resolved:${h}`) }, vips);
    assert.equal(await r.resolve(ip), "resolved:db.internal");
    await assert.rejects(r.resolve("100.80.255.254"), /unassigned virtual address/);
    assert.equal(await r.resolve("10.0.0.9"), "resolved:10.0.0.9");
    assert.equal(await r.resolve("example.test"), "resolved:example.test");
    assert.deepEqual(asked, ["db.internal", "10.0.0.9", "example.test"]);
  });
});
