import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { blake2s, hchacha20, xaeadDecrypt, xaeadEncrypt, tai64n } from "./primitives.js";
import {
  CookieChecker,
  StaticKey,
  checkMac1,
  checkMac2,
  consumeCookieReply,
  consumeInitiation,
  consumeResponse,
  cookieKeyFor,
  createInitiation,
  createResponse,
  mac1KeyFor,
  parseIp,
  sourceBytes,
  writeMacs,
} from "./noise.js";
import { REPLAY_WINDOW, ReplayWindow } from "./replay.js";
import { Keypair } from "./keypair.js";
import { AllowedIps, formatPrefix, parsePrefix } from "./allowed-ips.js";
import { WireGuardDevice } from "./device.js";
import { RawInitiator, buildUdp4, parseUdp4 } from "./test-packets.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(what: string, fn: () => T, timeoutMs = 3000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("wireguard primitives", () => {
  it("BLAKE2s matches node's blake2s256 and the RFC 7693 keyed test vector", () => {
    for (const n of [0, 1, 63, 64, 65, 128, 129, 1000]) {
      const d = randomBytes(n);
      assert.deepEqual(blake2s(d, undefined, 32), createHash("blake2s256").update(d).digest());
    }
    const key = Buffer.from([...Array(32).keys()]);
    assert.equal(
      blake2s(Buffer.alloc(0), key, 32).toString("hex"),
      "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49",
    );
    assert.equal(blake2s(Buffer.from("abc"), key, 16).length, 16);
  });

  it("HChaCha20 matches the draft-irtf-cfrg-xchacha §2.2.1 vector; XChaCha20-Poly1305 round-trips", () => {
    const key = Buffer.from([...Array(32).keys()]);
    const nonce = Buffer.from("000000090000004a0000000031415927", "hex");
    assert.equal(
      hchacha20(key, nonce).toString("hex"),
      "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc",
    );
    const n24 = randomBytes(24);
    const sealed = xaeadEncrypt(key, n24, Buffer.from("cookie"), Buffer.from("ad"));
    assert.equal(xaeadDecrypt(key, n24, sealed, Buffer.from("ad"))!.toString(), "cookie");
    assert.equal(xaeadDecrypt(key, n24, sealed, Buffer.from("AD")), null);
    sealed[0]! ^= 1;
    assert.equal(xaeadDecrypt(key, n24, sealed, Buffer.from("ad")), null);
  });

  it("TAI64N labels are 12 bytes and increase with time", () => {
    const a = tai64n(1_700_000_000_000);
    const b = tai64n(1_700_000_000_100);
    assert.equal(a.length, 12);
    assert.ok(Buffer.compare(b, a) > 0);
    assert.equal(a.readUInt32BE(0), 0x40000000);
  });

  it("parses IPv4/IPv6 addresses and prefixes", () => {
    assert.deepEqual([...parseIp("10.1.2.3")!], [10, 1, 2, 3]);
    assert.equal(parseIp("10.1.2"), null);
    assert.equal(parseIp("256.1.2.3"), null);
    assert.equal(Buffer.from(parseIp("fd00::1")!).toString("hex"), "fd000000000000000000000000000001");
    assert.deepEqual([...parseIp("::ffff:1.2.3.4")!], [1, 2, 3, 4]);
    assert.equal(parseIp("1::2::3"), null);
    assert.equal(formatPrefix(parsePrefix("10.1.2.3/24")!), "10.1.2.0/24");
    assert.equal(formatPrefix(parsePrefix("fd00:0:0:0:0:0:0:1/64")!), "fd00::/64");
    assert.equal(parsePrefix("10.0.0.0/33"), null);
  });

  it("allowed IPs: longest prefix wins and a prefix moves between owners", () => {
    const t = new AllowedIps<string>();
    t.insert(parsePrefix("10.0.0.0/8")!, "a");
    t.insert(parsePrefix("10.1.0.0/16")!, "b");
    t.insert(parsePrefix("fd00::/64")!, "c");
    assert.equal(t.lookup(parseIp("10.1.2.3")!), "b");
    assert.equal(t.lookup(parseIp("10.2.2.3")!), "a");
    assert.equal(t.lookup(parseIp("11.0.0.1")!), undefined);
    assert.equal(t.lookup(parseIp("fd00::5")!), "c");
    t.insert(parsePrefix("10.1.0.0/16")!, "a");
    assert.equal(t.lookup(parseIp("10.1.2.3")!), "a");
    t.removeOwner("a");
    assert.equal(t.lookup(parseIp("10.1.2.3")!), undefined);
  });
});

describe("wireguard Noise_IKpsk2", () => {
  it("own initiator and responder derive crossed transport keys; messages are 148 and 92 bytes", () => {
    const i = StaticKey.generate();
    const r = StaticKey.generate();
    const psk = randomBytes(32);
    const init = createInitiation(i, r.publicKey, 7, { psk })!;
    assert.equal(init.message.length, 148);
    writeMacs(init.message, mac1KeyFor(r.publicKey), null);
    assert.ok(checkMac1(init.message, r.mac1Key));
    assert.ok(!checkMac1(init.message, i.mac1Key));
    const got = consumeInitiation(r, init.message)!;
    assert.ok(got.remoteStatic.equals(i.publicKey));
    assert.equal(got.remoteIndex, 7);
    const resp = createResponse(got, 9, psk)!;
    assert.equal(resp.message.length, 92);
    const done = consumeResponse(i, init.state, resp.message)!;
    assert.equal(done.remoteIndex, 9);
    assert.ok(done.keys.send.equals(resp.keys.receive));
    assert.ok(done.keys.receive.equals(resp.keys.send));
    // A different psk on the responder breaks the handshake at the response.
    const init2 = createInitiation(i, r.publicKey, 8, { psk })!;
    const resp2 = createResponse(consumeInitiation(r, init2.message)!, 10, randomBytes(32))!;
    assert.equal(consumeResponse(i, init2.state, resp2.message), null);
  });

  it("tampered or misaddressed initiations do not authenticate", () => {
    const i = StaticKey.generate();
    const r = StaticKey.generate();
    const init = createInitiation(i, r.publicKey, 1)!;
    for (const off of [8, 40, 90]) {
      const m = Buffer.from(init.message);
      m[off]! ^= 0x80;
      assert.equal(consumeInitiation(r, m), null, `flip at ${off}`);
    }
    assert.equal(consumeInitiation(StaticKey.generate(), init.message), null);
    assert.equal(consumeInitiation(r, init.message.subarray(0, 100)), null);
  });

  it("cookie replies open only with the mac1 they answer, and the cookie makes a valid mac2", () => {
    const i = StaticKey.generate();
    const r = StaticKey.generate();
    const checker = new CookieChecker(r);
    const src = sourceBytes("192.0.2.1", 4242);
    const init = createInitiation(i, r.publicKey, 1)!;
    const mac1 = writeMacs(init.message, mac1KeyFor(r.publicKey), null);
    assert.ok(!checker.checkMac2(init.message, src));
    const reply = checker.createReply(init.message, src);
    assert.equal(reply.length, 64);
    assert.equal(consumeCookieReply(reply, cookieKeyFor(r.publicKey), randomBytes(16)), null);
    const cookie = consumeCookieReply(reply, cookieKeyFor(r.publicKey), mac1)!;
    assert.equal(cookie.length, 16);
    writeMacs(init.message, mac1KeyFor(r.publicKey), cookie);
    assert.ok(checker.checkMac2(init.message, src));
    assert.ok(!checker.checkMac2(init.message, sourceBytes("192.0.2.1", 4243)));
    assert.ok(checkMac2(init.message, cookie));
  });
});

describe("wireguard replay window and transport keypairs", () => {
  it("accepts fresh counters in any order within the window, rejects duplicates and old ones", () => {
    assert.ok(REPLAY_WINDOW >= 2048);
    const w = new ReplayWindow();
    assert.ok(w.accept(0));
    assert.ok(!w.accept(0));
    assert.ok(w.accept(5));
    assert.ok(w.accept(3));
    assert.ok(!w.accept(3));
    assert.ok(w.accept(REPLAY_WINDOW + 5));
    assert.ok(w.accept(5 + 1)); // exactly at the window's edge
    assert.ok(!w.accept(4)); // behind the window
    assert.ok(!w.check(REPLAY_WINDOW + 5));
    assert.ok(w.accept(1_000_000)); // a big jump clears the ring
    assert.ok(w.accept(1_000_000 - 1));
    assert.ok(!w.accept(1_000_000 - REPLAY_WINDOW - 1));
    assert.ok(!w.accept(-1));
    // Randomized against a reference set.
    const ref = new Set<number>();
    const w2 = new ReplayWindow();
    let max = 0;
    for (let k = 0; k < 20000; k++) {
      const c = Math.max(0, max + Math.floor(Math.random() * 200) - 150);
      const expect = !ref.has(c) && !(max - c > REPLAY_WINDOW);
      assert.equal(w2.accept(c), expect, `counter ${c} max ${max}`);
      ref.add(c);
      max = Math.max(max, c);
    }
  });

  it("encrypts with padding to 16 (capped at the MTU) and decrypts once", () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const a = new Keypair(k1, k2, true, 1, 2, Date.now());
    const b = new Keypair(k2, k1, false, 2, 1, Date.now());
    const m = a.encrypt(Buffer.from("hello"))!;
    assert.equal(m.length, 16 + 16 + 16);
    assert.equal(m.readUInt32LE(4), 2);
    const p = b.decrypt(m, Date.now())!;
    assert.equal(p.subarray(0, 5).toString(), "hello");
    assert.ok(p.subarray(5).every((x) => x === 0));
    assert.equal(b.decrypt(m, Date.now()), null, "replay");
    assert.equal(a.encrypt(Buffer.alloc(1420))!.length, 32 + 1420);
    assert.equal(a.encrypt(Buffer.alloc(1419))!.length, 32 + 1420);
    assert.equal(a.encrypt(Buffer.alloc(0))!.length, 32);
    const forged = a.encrypt(Buffer.from("x"))!;
    forged[20]! ^= 1;
    assert.equal(b.decrypt(forged, Date.now()), null);
  });

  it("enforces REJECT_AFTER_MESSAGES and REJECT_AFTER_TIME", () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const a = new Keypair(k1, k2, true, 1, 2, Date.now(), { rejectAfterMessages: 3 });
    const b = new Keypair(k2, k1, false, 2, 1, Date.now(), { rejectAfterMessages: 3, rejectAfterTime: 1000 });
    const msgs = [0, 1, 2].map(() => a.encrypt(Buffer.from("x"))!);
    assert.equal(a.encrypt(Buffer.from("x")), null);
    assert.ok(!a.canSend(Date.now()));
    assert.ok(b.decrypt(msgs[0]!, Date.now()));
    assert.equal(b.decrypt(msgs[1]!, Date.now() + 1000), null, "expired");
    const big = Buffer.from(msgs[2]!);
    big.writeUInt32LE(0xffffffff, 12);
    assert.equal(Keypair.counterOf(big), null);
  });
});

async function pair(opts: { timingA?: object; timingB?: object } = {}) {
  const a = new WireGuardDevice({ privateKey: StaticKey.generate().privateKey, timing: opts.timingA ?? {} });
  const b = new WireGuardDevice({ privateKey: StaticKey.generate().privateKey, timing: opts.timingB ?? {} });
  const pa = await a.listen(0, "127.0.0.1");
  await b.listen(0, "127.0.0.1");
  a.addPeer({ publicKey: b.publicKey, allowedIps: ["10.9.0.2/32"], name: "b" });
  b.addPeer({ publicKey: a.publicKey, allowedIps: ["0.0.0.0/0"], endpoint: `127.0.0.1:${pa}` });
  const atA: Buffer[] = [];
  const atB: Buffer[] = [];
  a.onPacket((_p, pkt) => atA.push(pkt));
  b.onPacket((_p, pkt) => atB.push(pkt));
  return { a, b, atA, atB, close: () => (a.close(), b.close()) };
}

describe("WireGuardDevice", () => {
  it("two devices: queued first packet triggers the handshake; traffic flows both ways", async () => {
    const { a, b, atA, atB, close } = await pair();
    try {
      const up = buildUdp4("10.9.0.2", 1000, "10.99.0.1", 53, Buffer.from("query"));
      assert.ok(b.send(a.publicKey, up));
      await waitFor("packet at a", () => atA.length > 0);
      assert.deepEqual(atA[0], up);
      assert.ok(a.send(b.publicKey, buildUdp4("10.99.0.1", 53, "10.9.0.2", 1000, Buffer.from("answer"))));
      await waitFor("packet at b", () => atB.length > 0);
      assert.equal(parseUdp4(atB[0]!)!.payload.toString(), "answer");
      const [st] = a.peers();
      assert.equal(st!.name, "b");
      assert.ok(st!.lastHandshake && st!.hasSession && st!.rxBytes > 0 && st!.txBytes > 0);
      assert.deepEqual(st!.allowedIps, ["10.9.0.2/32"]);
      assert.equal(a.send("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", Buffer.alloc(20)), false);
    } finally {
      close();
    }
  });

  it("the session initiator rekeys after REKEY_AFTER_TIME; the responder does not", async () => {
    const timing = { rekeyAfterTime: 150, rekeyTimeout: 50 };
    const { a, b, atA, close } = await pair({ timingA: timing, timingB: timing });
    try {
      const pkt = buildUdp4("10.9.0.2", 1, "10.99.0.1", 9, Buffer.from("x"));
      b.send(a.publicKey, pkt);
      await waitFor("first", () => atA.length === 1);
      const hs = b.stats.handshakesCompleted;
      // The responder (a) sending on an old session does not start a handshake.
      await sleep(200);
      a.send(b.publicKey, buildUdp4("10.99.0.1", 9, "10.9.0.2", 1, Buffer.from("y")));
      await sleep(50);
      assert.equal(b.stats.handshakesCompleted, hs);
      // The initiator (b) does, and traffic keeps flowing on the new session.
      b.send(a.publicKey, pkt);
      await waitFor("rekey", () => b.stats.handshakesCompleted > hs);
      b.send(a.publicKey, pkt);
      await waitFor("after rekey", () => atA.length === 3);
    } finally {
      close();
    }
  });

  it("gives up after REKEY_ATTEMPT_TIME and bounds the queue", async () => {
    const sink = dgram.createSocket("udp4");
    sink.bind(0, "127.0.0.1");
    await once(sink, "listening");
    let initiations = 0;
    sink.on("message", (m) => m[0] === 1 && initiations++);
    const d = new WireGuardDevice({
      privateKey: StaticKey.generate().privateKey,
      queueLimit: 4,
      timing: { rekeyTimeout: 40, rekeyAttemptTime: 200 },
    });
    try {
      await d.listen(0, "127.0.0.1");
      const peer = StaticKey.generate().publicKeyBase64;
      d.addPeer({ publicKey: peer, allowedIps: ["10.9.9.9/32"], endpoint: `127.0.0.1:${sink.address().port}` });
      for (let i = 0; i < 10; i++) d.send(peer, Buffer.alloc(40));
      assert.equal(d.stats.dropped["queue-full"], 6);
      await waitFor("give up", () => d.stats.dropped["queue-expired"] === 4, 3000);
      assert.ok(initiations >= 3 && initiations <= 8, `initiations ${initiations}`);
    } finally {
      d.close();
      sink.close();
    }
  });

  it("roams to the source of the latest authenticated packet, sends keepalives, drops replayed initiations", async () => {
    const d = new WireGuardDevice({ privateKey: StaticKey.generate().privateKey, timing: { keepaliveTimeout: 100 } });
    const port = await d.listen(0, "127.0.0.1");
    const c = new RawInitiator(d.key.publicKey, port);
    const other = dgram.createSocket("udp4");
    try {
      await c.bind();
      other.bind(0, "127.0.0.1");
      await once(other, "listening");
      d.addPeer({ publicKey: c.key.publicKeyBase64, allowedIps: ["10.9.1.2/32"] });
      const sent = c.sendInitiation();
      const resp = (await c.next())!;
      const res = consumeResponse(c.key, sent.state, resp)!;
      c.keypair = new Keypair(res.keys.send, res.keys.receive, true, sent.state.localIndex, res.remoteIndex, Date.now());
      // Replaying the same initiation (same timestamp) is ignored.
      c.raw(sent.message);
      await sleep(50);
      assert.equal(d.stats.dropped["replayed-initiation"], 1);
      // Data from a new address: the peer's endpoint follows it.
      const data = c.keypair.encrypt(buildUdp4("10.9.1.2", 1, "10.99.0.1", 9, Buffer.from("moved")))!;
      other.send(data, port, "127.0.0.1");
      await waitFor("roamed", () => d.peers()[0]!.endpoint === `127.0.0.1:${other.address().port}`);
      // Data received and nothing to send back: a keepalive after KEEPALIVE_TIMEOUT, to the new endpoint.
      const [ka] = (await once(other, "message")) as [Buffer];
      assert.equal(ka[0], 4);
      assert.equal(ka.length, 32);
      assert.deepEqual(c.keypair.decrypt(ka, Date.now()), Buffer.alloc(0));
    } finally {
      c.close();
      other.close();
      d.close();
    }
  });

  it("drops expired sessions and never throws on hostile datagrams", async () => {
    const d = new WireGuardDevice({ privateKey: StaticKey.generate().privateKey, timing: { rejectAfterTime: 100 } });
    const port = await d.listen(0, "127.0.0.1");
    const c = new RawInitiator(d.key.publicKey, port);
    try {
      await c.bind();
      d.addPeer({ publicKey: c.key.publicKeyBase64, allowedIps: ["10.9.2.2/32"] });
      await c.handshake();
      await sleep(150);
      c.sendPacket(buildUdp4("10.9.2.2", 1, "10.99.0.1", 9, Buffer.from("late")));
      await waitFor("expired drop", () => d.stats.dropped["expired-session"] === 1);
      const from = { address: "127.0.0.1", port: 9 };
      const before = d.stats.rxDatagrams;
      for (let i = 0; i < 3000; i++) {
        const type = 1 + (i % 5);
        const len = [0, 1, 3, 4, 31, 32, 33, 64, 92, 148, 200][i % 11]!;
        const m = randomBytes(len);
        if (len > 0) m[0] = type;
        if (len > 3) m.fill(0, 1, 4);
        d.receive(m, from);
      }
      // Valid headers, garbage bodies, correct lengths.
      for (const [t, n] of [[1, 148], [2, 92], [3, 64], [4, 48]] as const) {
        const m = randomBytes(n);
        m.writeUInt32LE(t, 0);
        d.receive(m, from);
      }
      assert.equal(d.stats.rxDatagrams - before, 3004);
      assert.equal(d.stats.dropped["internal-error"] ?? 0, 0);
    } finally {
      c.close();
      d.close();
    }
  });
});
