import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { loadOrCreateCa, type GatewayCa } from "./ca.js";
import { InvalidServerNameError, LeafCache, normalizeServerName } from "./leaf.js";
import { MemoryStore } from "./test-helpers.js";
import { x509 } from "./x509.js";

let ca: GatewayCa;
before(async () => {
  ca = await loadOrCreateCa(new MemoryStore());
});

describe("normalizeServerName", () => {
  it("accepts and canonicalises host names and IP literals", () => {
    assert.deepEqual(normalizeServerName("API.Example.TEST."), { name: "api.example.test", kind: "dns" });
    assert.deepEqual(normalizeServerName("localhost"), { name: "localhost", kind: "dns" });
    assert.deepEqual(normalizeServerName("xn--bcher-kva.example"), { name: "xn--bcher-kva.example", kind: "dns" });
    assert.deepEqual(normalizeServerName("_acme.svc-1.example.test"), { name: "_acme.svc-1.example.test", kind: "dns" });
    assert.deepEqual(normalizeServerName("127.0.0.1"), { name: "127.0.0.1", kind: "ip" });
    assert.deepEqual(normalizeServerName("::1"), { name: "::1", kind: "ip" });
    assert.deepEqual(normalizeServerName("[0:0:0:0:0:0:0:1]"), { name: "::1", kind: "ip" });
    assert.deepEqual(normalizeServerName("2001:DB8::0:1"), { name: "2001:db8::1", kind: "ip" });
    const long = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    assert.equal(long.length, 253);
    assert.equal(normalizeServerName(long)?.name, long);
  });

  it("rejects garbage", () => {
    for (const bad of [
      "", ".", "..", "a..b", "-a.example", "a-.example", "*.example.test", "a b.example", "exa mple",
      "ex\u00e4mple.test", "a/b", "a:b", "host:443", "1.2.3", "999.1.1.1", "01.2.3.4", "fe80::1%eth0",
      "[::1", "::g", `${"a".repeat(64)}.example`, `${"a.".repeat(127)}a`, "a\u0000b", "example.test..",
    ]) {
      assert.equal(normalizeServerName(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe("LeafCache", () => {
  it("mints a leaf with the required fields, signed by the CA", async () => {
    const cache = new LeafCache(ca);
    const leaf = await cache.get("api.example.test");
    const node = new X509Certificate(leaf.certPem);
    const caNode = new X509Certificate(ca.certPem);
    assert.ok(node.checkIssued(caNode) && node.verify(caNode.publicKey), "issued and signed by the CA");
    assert.equal(node.ca, false);
    assert.equal(node.subjectAltName, "DNS:api.example.test");
    assert.equal(node.checkHost("api.example.test"), "api.example.test");
    assert.equal(node.checkHost("www.example.test"), undefined);
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.notEqual(node.publicKey.export({ type: "spki", format: "der" }).toString("hex"),
      caNode.publicKey.export({ type: "spki", format: "der" }).toString("hex"), "own key, not the CA's");

    const cert = new x509.X509Certificate(leaf.certPem);
    assert.equal(cert.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
    assert.deepEqual([...(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
    assert.equal(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, ca.subjectKeyId);
    assert.equal(cert.getExtension(x509.BasicConstraintsExtension)?.ca, false);

    const now = Date.now();
    const back = now - leaf.notBefore.getTime();
    assert.ok(back > 59 * 60_000 && back < 61 * 60_000, "valid from ~1 hour ago");
    const days = (leaf.notAfter.getTime() - now) / 86400_000;
    assert.ok(days > 29.9 && days <= 30, `valid for ~30 days (${days})`);
    assert.ok(leaf.renewAt > new Date(now) && leaf.renewAt < leaf.notAfter, "renewed before expiry");

    const other = await cache.get("www.example.test");
    assert.notEqual(other.serial, leaf.serial);
    assert.match(leaf.serial, /^[0-9a-f]{32}$/);
  });

  it("uses IP SANs for IPv4 and IPv6 literals", async () => {
    const cache = new LeafCache(ca);
    const v4 = new X509Certificate((await cache.get("127.0.0.1")).certPem);
    assert.equal(v4.subjectAltName, "IP Address:127.0.0.1");
    assert.equal(v4.checkIP("127.0.0.1"), "127.0.0.1");
    const v6 = new X509Certificate((await cache.get("[::1]")).certPem);
    assert.match(v6.subjectAltName ?? "", /^IP Address:0:0:0:0:0:0:0:1$/i);
    assert.equal(v6.checkIP("::1"), "::1");
    assert.doesNotMatch(`${v4.subjectAltName} ${v6.subjectAltName}`, /DNS:/, "no DNS SAN for an IP");
  });

  it("names longer than 64 characters go in a critical SAN with an empty subject", async () => {
    const name = `${"x".repeat(60)}.example.test`;
    const leaf = await new LeafCache(ca).get(name);
    const cert = new x509.X509Certificate(leaf.certPem);
    assert.equal(cert.subject, "");
    assert.equal(cert.getExtension(x509.SubjectAlternativeNameExtension)?.critical, true);
    assert.equal(new X509Certificate(leaf.certPem).checkHost(name), name);
  });

  it("returns the same context object for the same name (case and trailing dot ignored)", async () => {
    const cache = new LeafCache(ca);
    const a = await cache.context("api.example.test");
    const b = await cache.context("API.example.test.");
    assert.equal(a, b);
    assert.equal(cache.stats.mints, 1);
    assert.equal(cache.stats.hits, 1);
  });

  it("de-duplicates concurrent mints of one name", async () => {
    const cache = new LeafCache(ca);
    const leaves = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.get(i % 2 ? "a.example.test" : "A.EXAMPLE.TEST")));
    assert.equal(cache.stats.mints, 1);
    for (const l of leaves) assert.equal(l, leaves[0]);
    await Promise.all([cache.get("b.example.test"), cache.get("c.example.test")]);
    assert.equal(cache.stats.mints, 3);
  });

  it("rejects invalid names without minting", async () => {
    const logs: unknown[] = [];
    const cache = new LeafCache(ca, { log: (m, f) => logs.push([m, f]) });
    for (const bad of ["", "bad name", "*.example.test", "x".repeat(300), "a..b", "1.2.3"]) {
      await assert.rejects(cache.get(bad), InvalidServerNameError, bad);
    }
    assert.equal(cache.stats.mints, 0);
    assert.equal(cache.size, 0);
    assert.equal(logs.length, 0);
    const err = await new Promise<Error | null>((resolve) => cache.sniCallback("bad name", (e) => resolve(e)));
    assert.ok(err instanceof InvalidServerNameError);
  });

  it("evicts the least recently used name past capacity", async () => {
    const cache = new LeafCache(ca, { capacity: 2 });
    const a = await cache.context("a.example.test");
    await cache.context("b.example.test");
    assert.equal(await cache.context("a.example.test"), a); // a is now most recent
    await cache.context("c.example.test"); // evicts b
    assert.equal(cache.size, 2);
    assert.equal(cache.stats.evictions, 1);
    assert.equal(await cache.context("a.example.test"), a, "a survived");
    const mints = cache.stats.mints;
    await cache.context("b.example.test");
    assert.equal(cache.stats.mints, mints + 1, "b was evicted and re-minted");
  });

  it("re-mints a leaf before it expires", async () => {
    let now = Date.now();
    const cache = new LeafCache(ca, { now: () => now });
    const first = await cache.get("api.example.test");
    now += 20 * 86400_000;
    assert.equal(await cache.get("api.example.test"), first, "still fresh at 20 days");
    now += 5 * 86400_000;
    const second = await cache.get("api.example.test");
    assert.notEqual(second, first, "renewed at 25 of 30 days");
    assert.ok(second.notAfter > first.notAfter);
    assert.equal(cache.size, 1);
  });

  it("never outlives the CA", async () => {
    const now = ca.notAfter.getTime() - 2 * 86400_000;
    const leaf = await new LeafCache(ca, { now: () => now }).get("api.example.test");
    assert.equal(leaf.notAfter.getTime(), ca.notAfter.getTime());
  });

  it("logs the mint time of each leaf", async (t) => {
    const times: number[] = [];
    const cache = new LeafCache(ca, {
      log: (msg, f) => {
        assert.equal(msg, "tls leaf minted");
        times.push(f.ms as number);
      },
    });
    await cache.get("warmup.example.test");
    times.length = 0;
    const n = 50;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await cache.get(`host${i}.example.test`);
    const wall = (performance.now() - t0) / n;
    assert.equal(times.length, n);
    times.sort((x, y) => x - y);
    t.diagnostic(`leaf mint: p50 ${times[n >> 1]} ms, max ${times[n - 1]} ms, mean wall ${wall.toFixed(2)} ms (${n} sequential)`);
  });
});
