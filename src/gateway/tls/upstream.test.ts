/**
 * upstreamTlsOptions against a local TLS server whose certificate comes
 * from a private CA (as an endpoint with `ca_cert` would have).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type TLSSocket, type TlsOptions } from "node:tls";
import { loadOrCreateCa, type GatewayCa } from "./ca.js";
import { close, listen, MemoryStore, mintTestCert, tryTls } from "./test-helpers.js";
import { UpstreamTlsConfigError, upstreamTlsOptions } from "./upstream.js";

const NAME = "upstream.example.test";

let privateCa: GatewayCa;
let otherCa: GatewayCa;
let clientCa: GatewayCa;
const servers: Server[] = [];

before(async () => {
  [privateCa, otherCa, clientCa] = await Promise.all([
    loadOrCreateCa(new MemoryStore()),
    loadOrCreateCa(new MemoryStore()),
    loadOrCreateCa(new MemoryStore()),
  ]);
});
after(async () => {
  await Promise.all(servers.map(close));
});

/** An upstream that presents a certificate for `certName` from the private CA. */
async function upstream(certName: string, extra: TlsOptions = {}, onSecure?: (s: TLSSocket) => void): Promise<number> {
  const { certPem, keyPem } = await mintTestCert(privateCa, certName, "server");
  const server = createServer({ ...extra, key: keyPem, cert: certPem, ALPNProtocols: ["h2", "http/1.1"] }, (s) => {
    if (onSecure) onSecure(s);
    else s.end("upstream-ok\n");
  });
  server.on("tlsClientError", () => {});
  servers.push(server);
  return listen(server);
}

describe("upstreamTlsOptions", () => {
  it("builds strict options", () => {
    const o = upstreamTlsOptions({ servername: NAME, alpn: ["http/1.1"] });
    assert.equal(o.rejectUnauthorized, true);
    assert.equal(o.minVersion, "TLSv1.2");
    assert.equal(o.servername, NAME);
    assert.equal(o.ca, undefined, "system roots by default");
    assert.deepEqual(o.ALPNProtocols, ["http/1.1"]);
    assert.equal(typeof o.checkServerIdentity, "function");
    for (const ip of ["10.0.0.1", "::1", "[2001:db8::1]"]) {
      assert.equal(upstreamTlsOptions({ servername: ip }).servername, undefined, `no SNI for ${ip}`);
    }
  });

  it("ca_cert replaces the default roots rather than adding to them", () => {
    const o = upstreamTlsOptions({ servername: NAME, caPem: `junk before\n${privateCa.certPem}` });
    assert.ok(Array.isArray(o.ca));
    assert.equal(o.ca.length, 1, "exactly the endpoint's certificate, no system roots");
    assert.equal(String(o.ca[0]).trim(), privateCa.certPem.trim());
  });

  it("an empty or garbled ca_cert is an error, never a fallback to system roots", () => {
    assert.throws(() => upstreamTlsOptions({ servername: NAME, caPem: "" }), UpstreamTlsConfigError);
    assert.throws(() => upstreamTlsOptions({ servername: NAME, caPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }), UpstreamTlsConfigError);
    assert.throws(() => upstreamTlsOptions({ servername: "" }), UpstreamTlsConfigError);
  });

  it("verifies with the endpoint's CA, even when dialing an address", async () => {
    const port = await upstream(NAME);
    const r = await tryTls({ ...upstreamTlsOptions({ servername: NAME, caPem: privateCa.certPem, alpn: ["http/1.1"] }), host: "127.0.0.1", port }, "upstream-ok");
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.authorized, true);
    assert.equal(r.alpn, "http/1.1");
  });

  it("accepts a ca_cert bundle with several certificates", async () => {
    const port = await upstream(NAME);
    const caPem = `${otherCa.certPem}\n${privateCa.certPem}`;
    const r = await tryTls({ ...upstreamTlsOptions({ servername: NAME, caPem }), host: "127.0.0.1", port });
    assert.ok(r.ok && r.authorized);
  });

  it("fails without the endpoint's CA (system roots only)", async () => {
    const port = await upstream(NAME);
    const r = await tryTls({ ...upstreamTlsOptions({ servername: NAME }), host: "127.0.0.1", port });
    assert.equal(r.ok, false);
  });

  it("fails when ca_cert names a different CA", async () => {
    const port = await upstream(NAME);
    const r = await tryTls({ ...upstreamTlsOptions({ servername: NAME, caPem: otherCa.certPem }), host: "127.0.0.1", port });
    assert.equal(r.ok, false);
  });

  it("fails on a host name mismatch, whatever host is dialed", async () => {
    const port = await upstream(NAME);
    const r = await tryTls({ ...upstreamTlsOptions({ servername: "other.example.test", caPem: privateCa.certPem }), host: "127.0.0.1", port });
    assert.equal(r.ok ? "" : r.error.code, "ERR_TLS_CERT_ALTNAME_INVALID");
    // Even if the caller also sets `host` to a name the certificate does cover.
    const r2 = await tryTls({ ...upstreamTlsOptions({ servername: "other.example.test", caPem: privateCa.certPem }), host: "localhost", port });
    assert.equal(r2.ok, false);
  });

  it("an IP upstream verifies against its IP SAN and sends no SNI", async () => {
    let sni: string | false | null | undefined;
    const port = await upstream("127.0.0.1", {}, (s) => {
      sni = s.servername;
      s.end("upstream-ok\n");
    });
    const r = await tryTls({ ...upstreamTlsOptions({ servername: "127.0.0.1", caPem: privateCa.certPem }), host: "127.0.0.1", port }, "upstream-ok");
    assert.ok(r.ok && r.authorized, r.ok ? "" : r.error.message);
    assert.equal(sni, false);
    const wrong = await tryTls({ ...upstreamTlsOptions({ servername: "127.0.0.2", caPem: privateCa.certPem }), host: "127.0.0.1", port });
    assert.equal(wrong.ok ? "" : wrong.error.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("presents the mTLS client certificate the upstream requires", async () => {
    const port = await upstream(NAME, { requestCert: true, rejectUnauthorized: true, ca: [clientCa.certPem] }, (s) => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.end(s.authorized ? `client=${cn}\n` : "unauthorized\n");
    });
    const clientCert = await mintTestCert(clientCa, "agent-credential", "client");
    const base = { servername: NAME, caPem: privateCa.certPem };

    const r = await tryTls({ ...upstreamTlsOptions({ ...base, clientCert }), host: "127.0.0.1", port }, "\n");
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.data, "client=agent-credential\n");

    const none = await tryTls({ ...upstreamTlsOptions(base), host: "127.0.0.1", port }, "\n");
    assert.equal(none.ok, false, "no client certificate, no service");

    const stranger = await mintTestCert(otherCa, "stranger", "client");
    const bad = await tryTls({ ...upstreamTlsOptions({ ...base, clientCert: stranger }), host: "127.0.0.1", port }, "\n");
    assert.equal(bad.ok, false, "a certificate from another CA is refused");
  });
});
