/**
 * Cross-checks the CA and leaves with the `openssl` CLI, an independent
 * X.509 implementation: what it prints, and whether it verifies the chain
 * strictly for TLS server use and the right host / IP.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CA_KEY, loadOrCreateCa, type GatewayCa } from "./ca.js";
import { LeafCache } from "./leaf.js";
import { MemoryStore, openssl, opensslSkip } from "./test-helpers.js";

const skip = opensslSkip();
let dir: string;
let ca: GatewayCa;
let store: MemoryStore;
const file = (name: string, body: string): string => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "clawpatrol-tls-"));
  store = new MemoryStore();
  ca = await loadOrCreateCa(store);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("openssl agrees", { skip }, () => {
  it("the CA: CA:TRUE pathlen 0, cert/CRL signing, P-256, fingerprint", () => {
    const caPath = file("ca.pem", ca.certPem);
    const text = openssl(["x509", "-noout", "-text", "-in", caPath]);
    assert.equal(text.status, 0, text.out);
    assert.match(text.out, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(text.out, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    assert.match(text.out, /X509v3 Subject Key Identifier/);
    assert.match(text.out, /ASN1 OID: prime256v1/);
    assert.match(text.out, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text.out, /Subject: CN = Claw Patrol CA [0-9a-f]{8}/);

    const fp = openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", caPath]);
    assert.equal(fp.status, 0, fp.out);
    assert.equal(fp.out.trim(), `sha256 Fingerprint=${ca.fingerprint256}`);
  });

  it("the stored key is a PKCS#8 P-256 key matching the certificate", () => {
    const bundle = store.get(DEFAULT_CA_KEY) ?? "";
    const keyPath = file("ca-key.pem", bundle.slice(bundle.indexOf("-----BEGIN PRIVATE KEY-----")));
    const pub = openssl(["pkey", "-in", keyPath, "-pubout"]);
    assert.equal(pub.status, 0, pub.out);
    const certPub = openssl(["x509", "-noout", "-pubkey", "-in", file("ca2.pem", ca.certPem)]);
    assert.equal(pub.out, certPub.out);
  });

  it("a DNS leaf: SAN, key usages, strict chain verification for the right host only", async () => {
    const leaf = await new LeafCache(ca).get("api.example.test");
    const caPath = file("ca.pem", ca.certPem);
    const leafPath = file("leaf.pem", leaf.certPem);
    const text = openssl(["x509", "-noout", "-text", "-in", leafPath]);
    assert.equal(text.status, 0, text.out);
    assert.match(text.out, /X509v3 Subject Alternative Name:\s+DNS:api\.example\.test\n/);
    assert.match(text.out, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.match(text.out, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication\n/);
    assert.match(text.out, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text.out, /X509v3 Authority Key Identifier/);

    const ok = openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", "api.example.test", "-CAfile", caPath, leafPath]);
    assert.equal(ok.status, 0, ok.out);
    assert.match(ok.out, /: OK/);
    const plain = openssl(["verify", "-CAfile", caPath, leafPath]);
    assert.equal(plain.status, 0, plain.out);

    const wrongHost = openssl(["verify", "-verify_hostname", "www.example.test", "-CAfile", caPath, leafPath]);
    assert.notEqual(wrongHost.status, 0, "wrong host must not verify");
    const otherCa = await loadOrCreateCa(new MemoryStore());
    const wrongCa = openssl(["verify", "-CAfile", file("other-ca.pem", otherCa.certPem), leafPath]);
    assert.notEqual(wrongCa.status, 0, "another gateway's CA must not verify it");
    const asClient = openssl(["verify", "-purpose", "sslclient", "-CAfile", caPath, leafPath]);
    assert.notEqual(asClient.status, 0, "serverAuth only");
  });

  it("IP leaves: IPv4 and IPv6 SANs verify for their address", async () => {
    const cache = new LeafCache(ca);
    const caPath = file("ca.pem", ca.certPem);
    for (const [ip, printed] of [["127.0.0.1", "127.0.0.1"], ["::1", "0:0:0:0:0:0:0:1"]] as const) {
      const leafPath = file("leaf-ip.pem", (await cache.get(ip)).certPem);
      const text = openssl(["x509", "-noout", "-ext", "subjectAltName", "-in", leafPath]);
      assert.match(text.out, new RegExp(`IP Address:${printed}\\n`, "i"));
      const ok = openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-verify_ip", ip, "-CAfile", caPath, leafPath]);
      assert.equal(ok.status, 0, ok.out);
      const wrong = openssl(["verify", "-verify_ip", ip === "::1" ? "::2" : "127.0.0.2", "-CAfile", caPath, leafPath]);
      assert.notEqual(wrong.status, 0);
    }
  });
});
