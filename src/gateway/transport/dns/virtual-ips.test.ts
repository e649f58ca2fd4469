import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openMemoryStore, openStore } from "../../../store/db.js";
import { tempDir } from "../../../store/test-helpers.js";
import { DEFAULT_VIRTUAL_RANGE, VirtualIps, ipv4ToInt, parseIpv4Cidr, virtualNamesOf, wireguardSubnetsOf } from "./virtual-ips.js";
import { fixturePolicy } from "./test-fixtures.js";

const inRange = (ip: string, cidr: string) => {
  const c = parseIpv4Cidr(cidr);
  const n = ipv4ToInt(ip)!;
  return n > c.base && n < c.base + c.size - 1;
};

describe("VirtualIps", () => {
  it("allocation is stable and persisted: reopening the store gives every name its address back", () => {
    const { dir, cleanup } = tempDir();
    try {
      const names = ["db.internal", "box.internal", "ch.internal", "wiki.corp"];
      let store = openStore(dir);
      const first = new VirtualIps(store.settings).sync(names);
      assert.equal(new VirtualIps(store.settings).allocate("db.internal"), first.get("db.internal"), "same answer from a second instance");
      store.close();

      store = openStore(dir);
      try {
        const vips = new VirtualIps(store.settings);
        for (const n of names) {
          assert.equal(vips.addressOf(n), first.get(n), `${n} keeps its address across a restart (without allocating)`);
          assert.equal(vips.lookupName(first.get(n)!), n);
        }
        // Allocated in another order, they still get the same addresses.
        assert.deepEqual(vips.sync([...names].reverse()), new Map([...first].reverse()));
      } finally {
        store.close();
      }
    } finally {
      cleanup();
    }
  });

  it("gives distinct names distinct addresses, inside the range, never its network or broadcast address", () => {
    const store = openMemoryStore();
    const vips = new VirtualIps(store.settings, { range: "100.90.7.0/24" });
    const seen = new Map<string, string>();
    for (let i = 0; i < 254; i++) {
      const name = `host-${i}.example.test`;
      const ip = vips.allocate(name);
      assert.ok(inRange(ip, "100.90.7.0/24"), `${ip} is a host address of the range`);
      assert.equal(seen.get(ip), undefined, `${ip} given to ${seen.get(ip)} and ${name}`);
      seen.set(ip, name);
      assert.ok(vips.contains(ip));
    }
    assert.throws(() => vips.allocate("one-too-many.example.test"), /exhausted/);
    store.close();
  });

  it("keys names case-insensitively without the root dot; refuses IP literals and wildcards", () => {
    const vips = new VirtualIps(openMemoryStore().settings);
    const ip = vips.allocate("DB.Internal.");
    assert.equal(vips.allocate("db.internal"), ip);
    assert.equal(vips.addressOf("db.INTERNAL"), ip);
    assert.equal(vips.lookupName(ip), "db.internal");
    assert.ok(inRange(ip, DEFAULT_VIRTUAL_RANGE));
    assert.throws(() => vips.allocate("10.0.0.1"), /not a host name/);
    assert.throws(() => vips.allocate("*.corp"), /not a host name/);
    assert.equal(vips.addressOf("never.allocated"), undefined);
    assert.equal(vips.lookupName("100.80.255.254"), undefined, "an unassigned address names nothing");
    assert.equal(vips.lookupName("10.0.0.1"), undefined);
    assert.equal(vips.contains("10.0.0.1"), false);
  });

  it("refuses a range overlapping the WireGuard subnet, and malformed or tiny ranges", () => {
    const settings = openMemoryStore().settings;
    assert.throws(() => new VirtualIps(settings, { range: "10.55.0.0/16", exclude: ["10.55.0.0/24"] }), /overlaps 10\.55\.0\.0\/24/);
    assert.throws(() => new VirtualIps(settings, { exclude: ["100.64.0.0/10"] }), /overlaps/);
    assert.doesNotThrow(() => new VirtualIps(settings, { exclude: ["10.55.0.0/24", "fd00::/64"] }));
    assert.throws(() => new VirtualIps(settings, { range: "100.80.0.0/31" }), /between/);
    assert.throws(() => new VirtualIps(settings, { range: "not-a-cidr" }), /not an IPv4 CIDR/);
    assert.equal(new VirtualIps(settings, { range: "100.81.3.4/16" }).range, "100.81.0.0/16", "host bits are cleared");
    const subnets = wireguardSubnetsOf(fixturePolicy().config.gateway);
    assert.deepEqual(subnets, ["10.55.0.0/24"]);
    assert.throws(() => new VirtualIps(settings, { range: "10.0.0.0/8", exclude: subnets }), /overlaps/);
  });

  it("moves a name whose stored address lies outside a changed range, and the old address stops naming it", () => {
    const store = openMemoryStore();
    const old = new VirtualIps(store.settings, { range: "100.80.0.0/16" }).allocate("db.internal");
    const moved = new VirtualIps(store.settings, { range: "100.99.0.0/16" });
    assert.equal(moved.addressOf("db.internal"), undefined);
    const now = moved.allocate("db.internal");
    assert.ok(inRange(now, "100.99.0.0/16"));
    const back = new VirtualIps(store.settings, { range: "100.80.0.0/16" });
    assert.equal(back.lookupName(old), undefined, "a stale address key names nothing");
    assert.equal(back.allocate("db.internal"), old, "back in the old range, the name hashes to its old address again");
  });

  it("two instances sharing a store never hand one address to two names", () => {
    const store = openMemoryStore();
    const a = new VirtualIps(store.settings, { range: "100.80.0.0/29" }); // 6 usable: collisions are likely
    const b = new VirtualIps(store.settings, { range: "100.80.0.0/29" });
    const ips = new Set<string>();
    for (let i = 0; i < 6; i++) ips.add((i % 2 === 0 ? a : b).allocate(`n${i}.test`));
    assert.equal(ips.size, 6);
    for (let i = 0; i < 6; i++) assert.equal(a.allocate(`n${i}.test`), b.allocate(`n${i}.test`));
  });
});

describe("virtualNamesOf", () => {
  it("names the hosts of ssh, postgres, ClickHouse-native and tunneled endpoints, and gateway-local resolve entries", () => {
    const policy = fixturePolicy();
    const names = virtualNamesOf(policy, { "split.example.test": "192.0.2.7", "local.example.test": "127.0.0.1", "v6.example.test": "2001:db8::7" });
    assert.deepEqual([...names].sort(), ["box.internal", "ch.internal", "db.internal", "local.example.test", "other.internal", "wiki.corp"]);
  });

  it("never gives wildcard hosts, IP literals, plain https or ClickHouse-over-HTTPS hosts an address", () => {
    const names = virtualNamesOf(fixturePolicy());
    for (const n of ["*.svc.corp", "svc.corp", "10.1.2.3", "api.example.test", "chh.internal", "split.example.test"]) {
      assert.equal(names.has(n), false, n);
    }
  });
});
