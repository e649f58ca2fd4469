/**
 * Real TLS handshakes on loopback between Node's TLS client and a server
 * whose certificates come from LeafCache — the agent-facing half of
 * interception.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer as createNetServer, type Server } from "node:net";
import { checkServerIdentity, createServer, TLSSocket, type SecureContext } from "node:tls";
import { loadOrCreateCa, type GatewayCa } from "./ca.js";
import { LeafCache } from "./leaf.js";
import { close, listen, MemoryStore, tryTls } from "./test-helpers.js";

const NAME = "api.example.test";

let ca: GatewayCa;
let cache: LeafCache;
const servers: Server[] = [];
const seenSni: (string | false | null)[] = [];

before(async () => {
  ca = await loadOrCreateCa(new MemoryStore());
  cache = new LeafCache(ca);
});
after(async () => {
  await Promise.all(servers.map(close));
});

/** A TLS server using LeafCache's SNICallback, as the gateway's agent side does. */
async function sniServer(sni = cache.sniCallback): Promise<number> {
  const server = createServer({ SNICallback: sni, ALPNProtocols: ["http/1.1"] }, (s) => {
    seenSni.push(s.servername);
    s.end("hello\n");
  });
  server.on("tlsClientError", () => {});
  servers.push(server);
  return listen(server);
}

/**
 * A raw listener that wraps each socket in a server TLSSocket whose default
 * context is minted for a fixed address — how the dispatcher serves a flow
 * that arrived without SNI (it knows the destination IP).
 */
async function ipServer(ctx: SecureContext, host: string): Promise<number> {
  const server = createNetServer((raw) => {
    const s = new TLSSocket(raw, { isServer: true, secureContext: ctx, SNICallback: cache.sniCallback });
    s.on("secure", () => {
      seenSni.push(s.servername);
      s.end("hello\n");
    });
    s.on("error", () => {});
  });
  servers.push(server);
  return listen(server, host);
}

describe("agent-side TLS with minted leaves", () => {
  it("a client trusting only the gateway CA is authorized for the SNI name", async () => {
    const port = await sniServer();
    const r = await tryTls({ host: "127.0.0.1", port, servername: NAME, ca: [ca.certPem], ALPNProtocols: ["http/1.1"] }, "hello");
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.authorized, true);
    assert.equal(r.alpn, "http/1.1");
    assert.equal(r.peer.subject.CN, NAME);
    assert.equal(r.peer.subjectaltname, `DNS:${NAME}`);
    assert.equal(seenSni.at(-1), NAME);
  });

  it("the CA is sent in the chain (leaf + CA)", async () => {
    const port = await sniServer();
    const r = await tryTls({ host: "127.0.0.1", port, servername: NAME, ca: [ca.certPem] });
    assert.ok(r.ok);
    assert.equal(r.peer.issuerCertificate.fingerprint256, ca.fingerprint256);
  });

  it("a client trusting only the system roots rejects the leaf", async () => {
    const port = await sniServer();
    const r = await tryTls({ host: "127.0.0.1", port, servername: NAME });
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : String(r.error.code), /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
  });

  it("a client expecting another name rejects the leaf", async () => {
    // The server answers every SNI with the api.example.test leaf.
    const port = await sniServer((_name, cb) => cache.sniCallback(NAME, cb));
    const r = await tryTls({ host: "127.0.0.1", port, servername: "www.example.test", ca: [ca.certPem] });
    assert.equal(r.ok, false);
    assert.equal(r.ok ? "" : r.error.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("a leaf for one name does not cover its parent or sibling names", async () => {
    const port = await sniServer((_name, cb) => cache.sniCallback(`sub.${NAME}`, cb));
    for (const servername of [NAME, `other.${NAME}`]) {
      const r = await tryTls({ host: "127.0.0.1", port, servername, ca: [ca.certPem] });
      assert.equal(r.ok ? "" : r.error.code, "ERR_TLS_CERT_ALTNAME_INVALID", servername);
    }
  });

  it("an invalid SNI aborts the handshake and mints nothing", async () => {
    const port = await sniServer();
    const before = cache.stats.mints;
    const r = await tryTls({ host: "127.0.0.1", port, servername: "-bad-.example.test", ca: [ca.certPem] });
    assert.equal(r.ok, false);
    assert.equal(cache.stats.mints, before);
  });

  it("an IPv4 connection without SNI verifies against an IP SAN", async () => {
    const port = await ipServer(await cache.context("127.0.0.1"), "127.0.0.1");
    const r = await tryTls(
      { host: "127.0.0.1", port, ca: [ca.certPem], checkServerIdentity: (_h, cert) => checkServerIdentity("127.0.0.1", cert) },
      "hello",
    );
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.authorized, true);
    assert.equal(r.peer.subjectaltname, "IP Address:127.0.0.1");
    assert.equal(seenSni.at(-1), false, "client sent no SNI");

    const wrong = await tryTls({
      host: "127.0.0.1",
      port,
      ca: [ca.certPem],
      checkServerIdentity: (_h, cert) => checkServerIdentity("127.0.0.2", cert),
    });
    assert.equal(wrong.ok ? "" : wrong.error.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("an IPv6 connection without SNI verifies against an IPv6 SAN", async () => {
    const port = await ipServer(await cache.context("::1"), "::1");
    const r = await tryTls({ host: "::1", port, ca: [ca.certPem] }, "hello");
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.authorized, true);
  });

  it("many concurrent handshakes for a new name mint one leaf", async () => {
    const port = await sniServer();
    const before = cache.stats.mints;
    const results = await Promise.all(
      Array.from({ length: 10 }, () => tryTls({ host: "127.0.0.1", port, servername: "burst.example.test", ca: [ca.certPem] })),
    );
    for (const r of results) assert.ok(r.ok && r.authorized);
    assert.equal(cache.stats.mints, before + 1);
  });
});
