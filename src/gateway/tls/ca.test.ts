import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash } from "node:crypto";
import { CA_COMMON_NAME, CaError, DEFAULT_CA_KEY, loadOrCreateCa } from "./ca.js";
import { MemoryStore } from "./test-helpers.js";
import { x509 } from "./x509.js";

describe("loadOrCreateCa", () => {
  it("mints an ECDSA P-256 CA with the required extensions and stores cert + PKCS#8 key", async () => {
    const store = new MemoryStore();
    const ca = await loadOrCreateCa(store);
    const stored = store.get(DEFAULT_CA_KEY);
    assert.ok(stored);
    assert.match(stored, /-----BEGIN CERTIFICATE-----/);
    assert.match(stored, /-----BEGIN PRIVATE KEY-----/); // PKCS#8, not SEC1 "EC PRIVATE KEY"
    assert.ok(!ca.certPem.includes("PRIVATE KEY"), "certPem must not carry the key");

    const node = new X509Certificate(ca.certPem);
    assert.equal(node.ca, true);
    assert.equal(node.subject, node.issuer, "self-signed");
    assert.ok(node.verify(node.publicKey), "self-signature verifies");
    assert.equal(node.publicKey.asymmetricKeyType, "ec");
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.match(ca.subject, new RegExp(`CN=${CA_COMMON_NAME} [0-9a-f]{8}`));

    const cert = new x509.X509Certificate(ca.certPem);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc && bc.ca && bc.critical && bc.pathLength === 0);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.ok(ku?.critical);
    assert.equal(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);

    const years = (ca.notAfter.getTime() - Date.now()) / (365.25 * 86400_000);
    assert.ok(years > 9.9 && years < 10.1, `validity ${years} years`);
    assert.ok(ca.notBefore.getTime() < Date.now());
    assert.equal(ca.signingKey.extractable, false);
  });

  it("fingerprint is the colon-hex SHA-256 of the DER", async () => {
    const ca = await loadOrCreateCa(new MemoryStore());
    const der = new X509Certificate(ca.certPem).raw;
    const hex = createHash("sha256").update(der).digest("hex").toUpperCase();
    assert.equal(ca.fingerprint256, hex.match(/../g)?.join(":"));
  });

  it("a second call with the same store returns the same CA without minting", async () => {
    const store = new MemoryStore();
    const a = await loadOrCreateCa(store);
    const b = await loadOrCreateCa(store);
    assert.equal(b.certPem, a.certPem);
    assert.equal(b.fingerprint256, a.fingerprint256);
    assert.equal(store.setCalls, 1);
  });

  it("concurrent first calls on one store converge on one CA", async () => {
    const store = new MemoryStore();
    const all = await Promise.all([loadOrCreateCa(store), loadOrCreateCa(store), loadOrCreateCa(store)]);
    assert.equal(store.setCalls, 3, "all three raced (each minted and tried to store)");
    for (const ca of all) assert.equal(ca.certPem, all[0]?.certPem);
    // The key each returned signs for the one stored certificate.
    const data = Buffer.from("probe");
    for (const ca of all) {
      const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ca.signingKey, data);
      const pub = await new x509.X509Certificate(ca.certPem).publicKey.export();
      assert.ok(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, sig, data));
    }
  });

  it("two gateways' CAs are distinguishable by subject", async () => {
    const a = await loadOrCreateCa(new MemoryStore());
    const b = await loadOrCreateCa(new MemoryStore());
    assert.notEqual(a.subject, b.subject);
    assert.notEqual(a.fingerprint256, b.fingerprint256);
  });

  it("honours a custom settings key", async () => {
    const store = new MemoryStore();
    await loadOrCreateCa(store, { key: "other.ca" });
    assert.ok(store.get("other.ca"));
    assert.equal(store.get(DEFAULT_CA_KEY), undefined);
  });

  it("rejects a corrupt, mismatched or expired stored CA without overwriting it", async () => {
    const good = new MemoryStore();
    await loadOrCreateCa(good);
    const other = new MemoryStore();
    await loadOrCreateCa(other);
    const goodBundle = good.get(DEFAULT_CA_KEY) ?? "";
    const otherBundle = other.get(DEFAULT_CA_KEY) ?? "";
    const cert = (s: string): string => s.slice(0, s.indexOf("-----BEGIN PRIVATE KEY-----"));
    const key = (s: string): string => s.slice(s.indexOf("-----BEGIN PRIVATE KEY-----"));

    for (const [label, bundle, re] of [
      ["garbage", "not pem", /one certificate and one PKCS#8/],
      ["cert only", cert(goodBundle), /one certificate and one PKCS#8/],
      ["mismatched key", cert(goodBundle) + key(otherBundle), /does not match/],
    ] as const) {
      const s = new MemoryStore();
      s.map.set(DEFAULT_CA_KEY, bundle);
      await assert.rejects(loadOrCreateCa(s), (e: unknown) => e instanceof CaError && re.test(e.message), label);
      assert.equal(s.get(DEFAULT_CA_KEY), bundle, `${label}: left untouched`);
      // The key material never appears in the error.
      await loadOrCreateCa(s).catch((e: Error) => assert.ok(!e.message.includes("PRIVATE KEY")));
    }

    const later = new Date(Date.now() + 11 * 365 * 86400_000);
    await assert.rejects(loadOrCreateCa(good, { now: () => later }), /expired/);
  });
});
