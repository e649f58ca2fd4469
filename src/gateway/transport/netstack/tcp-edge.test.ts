/**
 * One stack poked with hand-built segments: passive open to any address,
 * SYN-ACK options, resets both ways (RFC 9293 §3.10.7, RFC 5961), ordering
 * and duplicates, retransmission with backoff, connection limit, ICMP echo,
 * UDP, and hostile input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { prng } from "../../../testing/prng.js";
import { parseIp, checksum, pseudoSum, PROTO_UDP } from "./ip4.js";
import { ACK, FIN, PSH, RST, SYN, seqGe } from "./tcp-segment.js";
import { parseUdp } from "./udp.js";
import { RawPeer, rawTcp, rawUdp, until } from "./test-helpers.js";
import { ACK_EVERY } from "./tcp-input.js";

test("SYN to any destination gets a SYN-ACK with MSS = mtu − 40 and window scale only if offered", () => {
  const r = new RawPeer({ mtu: 1420 });
  r.stack.input(rawTcp({ dst: "8.8.8.8", dstPort: 53, flags: SYN, seq: 5, mss: 1460, wscale: 7 }));
  const [sa] = r.takeTcp();
  assert.ok(sa);
  assert.equal(sa.flags, SYN | ACK);
  assert.equal(sa.src, "8.8.8.8");
  assert.equal(sa.dst, "10.0.0.2");
  assert.equal(sa.ack, 6);
  assert.equal(sa.mss, 1380);
  assert.equal(sa.wscale, 3); // 256 KiB buffer
  assert.ok(sa.window <= 65535 && sa.window > 0);

  r.stack.input(rawTcp({ dst: "198.51.100.1", dstPort: 22, srcPort: 40001, flags: SYN, seq: 5, mss: 1200 }));
  const [sb] = r.takeTcp();
  assert.ok(sb);
  assert.equal(sb.wscale, undefined, "no window scale unless the peer offered it");
  assert.equal(sb.mss, 1380);
  r.stack.close();
});

test("ISNs are not predictable from one connection to the next", () => {
  const r = new RawPeer();
  const isns = new Set<number>();
  for (let i = 0; i < 20; i++) {
    r.stack.input(rawTcp({ srcPort: 30000 + i, flags: SYN, seq: 1 }));
    isns.add(r.takeTcp()[0]!.seq);
  }
  assert.equal(isns.size, 20);
  r.stack.close();
});

test("IPv6: SYN to an IPv6 destination is accepted with MSS = mtu − 60", () => {
  const r = new RawPeer({ mtu: 1420 });
  const { conn, synAck } = r.handshake({ src: "fd00::2", dst: "2001:db8::1", dstPort: 443 });
  assert.equal(synAck.mss, 1360);
  assert.deepEqual(conn.localEndpoint, { address: "2001:db8::1", port: 443 });
  assert.deepEqual(conn.remoteEndpoint, { address: "fd00::2", port: 40000 });
  r.stack.close();
});

test("segments for unknown connections: ACK ⇒ RST seq=ack; no ACK ⇒ RST|ACK; RST ⇒ nothing", () => {
  const r = new RawPeer();
  r.stack.input(rawTcp({ flags: ACK, seq: 77, ack: 12345 }));
  let [s] = r.takeTcp();
  assert.ok(s);
  assert.equal(s.flags, RST);
  assert.equal(s.seq, 12345);
  r.stack.input(rawTcp({ flags: 0, seq: 77, payload: Buffer.from("abc") }));
  assert.equal(r.takeTcp().length, 0, "no flags at all: dropped");
  r.stack.input(rawTcp({ flags: FIN | ACK, seq: 77, ack: 9 }));
  [s] = r.takeTcp();
  assert.equal(s!.flags, RST);
  r.stack.input(rawTcp({ flags: RST, seq: 77 }));
  r.stack.input(rawTcp({ flags: RST | ACK, seq: 77, ack: 5 }));
  assert.equal(r.take().length, 0);
  assert.equal(r.stack.connections, 0);
  r.stack.close();
});

test("out-of-order and duplicate segments are delivered once, in order; holes are dup-ACKed at once", async () => {
  const r = new RawPeer();
  const { conn, seq, ack } = r.handshake();
  const got: Buffer[] = [];
  conn.on("data", (d: Buffer) => got.push(d));
  const seg = (off: number, text: string, flags = ACK | PSH) => rawTcp({ seq: seq + off, ack, flags, payload: Buffer.from(text) });
  r.stack.input(seg(5, "world"));
  let acks = r.takeTcp();
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.ack, seq, "duplicate ACK for the hole");
  r.stack.input(seg(5, "world")); // duplicate of the held piece
  r.stack.input(seg(3, "lowo")); // overlaps both
  r.stack.input(seg(0, "hel"));
  acks = r.takeTcp();
  assert.equal(acks.at(-1)!.ack, seq + 10, "hole filled: cumulative ACK at once");
  r.stack.input(seg(0, "hello")); // old duplicate
  acks = r.takeTcp();
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.ack, seq + 10);
  r.stack.input(seg(10, "!", ACK | FIN));
  await new Promise((res) => conn.once("end", res));
  assert.equal(Buffer.concat(got).toString(), "helloworld!");
  r.stack.close();
});

test("FIN arriving before the data it follows is processed once the gap fills", async () => {
  const r = new RawPeer();
  const { conn, seq, ack } = r.handshake();
  const got: Buffer[] = [];
  conn.on("data", (d: Buffer) => got.push(d));
  let ended = false;
  conn.on("end", () => (ended = true));
  r.stack.input(rawTcp({ seq: seq + 3, ack, flags: ACK | FIN, payload: Buffer.from("def") }));
  await new Promise((res) => setImmediate(res));
  assert.equal(ended, false);
  r.stack.input(rawTcp({ seq, ack, flags: ACK, payload: Buffer.from("abc") }));
  await until(() => ended, 1000, "end");
  assert.equal(Buffer.concat(got).toString(), "abcdef");
  const last = r.takeTcp().at(-1)!;
  assert.equal(last.ack, seq + 7, "FIN acknowledged");
  r.stack.close();
});

test("RST in window but not exactly RCV.NXT gets a challenge ACK (RFC 5961); exact RST resets", async () => {
  const r = new RawPeer();
  const { conn, seq, ack } = r.handshake();
  const errs: Error[] = [];
  conn.on("error", (e) => errs.push(e));
  r.stack.input(rawTcp({ seq: seq + 100, flags: RST }));
  const [ch] = r.takeTcp();
  assert.ok(ch);
  assert.equal(ch.flags & (ACK | RST), ACK);
  assert.equal(ch.ack, seq);
  assert.equal(r.stack.connections, 1);
  // A SYN on the established connection: challenge ACK too, no reset.
  r.stack.input(rawTcp({ seq: seq + 9, flags: SYN }));
  assert.equal(r.takeTcp()[0]!.flags & (ACK | RST | SYN), ACK);
  assert.equal(r.stack.connections, 1);
  // Out-of-window RST: ignored silently.
  r.stack.input(rawTcp({ seq: seq - 100000, flags: RST }));
  assert.equal(r.take().length, 0);
  r.stack.input(rawTcp({ seq, ack, flags: RST }));
  assert.equal(r.stack.connections, 0);
  await new Promise((res) => conn.once("close", res));
  assert.equal((errs[0] as Error & { code?: string }).code, "ECONNRESET");
  r.stack.close();
});

test("RST during the handshake forgets the half-open connection silently", () => {
  const r = new RawPeer();
  r.stack.input(rawTcp({ flags: SYN, seq: 10 }));
  assert.equal(r.stack.connections, 1);
  r.stack.input(rawTcp({ flags: RST, seq: 11 }));
  assert.equal(r.stack.connections, 0);
  assert.equal(r.accepted.length, 0);
  // Wrong ACK of the SYN-ACK ⇒ RST.
  r.stack.input(rawTcp({ flags: SYN, seq: 10 }));
  const sa = r.takeTcp().find((s) => s.flags === (SYN | ACK))!;
  r.stack.input(rawTcp({ flags: ACK, seq: 11, ack: sa.seq + 5 }));
  const [rst] = r.takeTcp();
  assert.equal(rst!.flags, RST);
  assert.equal(rst!.seq, (sa.seq + 5) >>> 0);
  r.stack.close();
});

test("lost SYN-ACK is retransmitted (on timer and on a retransmitted SYN), then forgotten", async () => {
  const r = new RawPeer({ rtoInitial: 30, rtoMin: 10, synRetries: 2 });
  r.stack.input(rawTcp({ flags: SYN, seq: 10 }));
  r.stack.input(rawTcp({ flags: SYN, seq: 10 }));
  assert.equal(r.takeTcp().filter((s) => s.flags === (SYN | ACK)).length, 2);
  await until(() => r.stack.connections === 0, 2000, "half-open to expire");
  const synAcks = r.takeTcp().filter((s) => s.flags === (SYN | ACK));
  assert.equal(synAcks.length, 2, "two timer retransmissions");
  r.stack.close();
});

test("unacknowledged data is retransmitted with exponential backoff; ACK stops it; too many ⇒ RST", async () => {
  const r = new RawPeer({ rtoMin: 20, rtoInitial: 20, maxRetries: 3 });
  const { conn, seq, ack } = r.handshake();
  conn.on("error", () => {});
  conn.write("payload");
  await new Promise((res) => setImmediate(res));
  const first = r.takeTcp();
  assert.equal(first.length, 1);
  assert.equal(first[0]!.payload.toString(), "payload");
  const times: number[] = [];
  const t0 = performance.now();
  await until(() => {
    const segs = r.takeTcp();
    for (const s of segs) if (s.payload.length) times.push(performance.now() - t0);
    return times.length >= 3;
  }, 3000, "retransmissions");
  assert.ok(times[2]! - times[1]! > (times[1]! - times[0]!) * 1.5, `backoff: ${times.map((t) => t.toFixed(0)).join(", ")}`);
  // Acknowledge: no more retransmissions.
  r.stack.input(rawTcp({ seq, ack: ack + 7, flags: ACK }));
  r.take();
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(r.takeTcp().filter((s) => s.payload.length > 0).length, 0);
  // Unanswered data: aborted with RST after maxRetries.
  conn.write("more");
  await until(() => r.stack.connections === 0, 5000, "abort");
  assert.ok(r.takeTcp().some((s) => s.flags & RST));
  r.stack.close();
});

test("zero window from the peer: the sender probes (persist) and resumes when the window opens", async () => {
  const r = new RawPeer({ rtoMin: 20, rtoInitial: 20 });
  const { conn, seq, ack } = r.handshake({ window: 0 });
  conn.write("waiting");
  await new Promise((res) => setTimeout(res, 150));
  const probes = r.takeTcp();
  assert.ok(probes.length >= 2, `probes: ${probes.length}`);
  assert.ok(probes.every((p) => p.payload.length === 0 && p.seq === ((ack - 1) >>> 0)), "probes carry an old sequence number");
  // The probe is answered with a zero window: still alive after many probes (never aborted).
  for (const _ of probes) r.stack.input(rawTcp({ seq, ack, flags: ACK, window: 0 }));
  r.stack.input(rawTcp({ seq, ack, flags: ACK, window: 1000 }));
  const data = r.takeTcp().filter((s) => s.payload.length > 0);
  assert.equal(data[0]?.payload.toString(), "waiting");
  assert.equal(r.stack.connections, 1);
  r.stack.close();
});

test("connection limit: SYNs beyond maxConnections are reset", () => {
  const r = new RawPeer({ maxConnections: 3 });
  for (let i = 0; i < 3; i++) r.stack.input(rawTcp({ srcPort: 1000 + i, flags: SYN }));
  assert.equal(r.takeTcp().filter((s) => s.flags === (SYN | ACK)).length, 3);
  r.stack.input(rawTcp({ srcPort: 2000, flags: SYN, seq: 50 }));
  const [s] = r.takeTcp();
  assert.equal(s!.flags, RST | ACK);
  assert.equal(s!.ack, 51);
  assert.equal(r.stack.connections, 3);
  r.stack.close();
  assert.equal(r.stack.connections, 0);
});

test("bad TCP checksum: dropped without an answer", () => {
  const r = new RawPeer();
  const p = rawTcp({ flags: SYN });
  p[p.length - 1]! ^= 0xff;
  p[30]! ^= 0x01;
  r.stack.input(p);
  assert.equal(r.take().length, 0);
  assert.equal(r.stack.connections, 0);
});

test("the advertised window shrinks as an unread connection buffers, reaches 0, and reopens on read", async () => {
  const r = new RawPeer({ rcvBuf: 64 * 1024, mtu: 1420 });
  const { conn, seq, ack, synAck } = r.handshake({ wscale: 0 });
  assert.equal(synAck.wscale, 1, "64 KiB needs a shift of 1");
  let off = 0;
  let last = -1;
  const windows: number[] = [];
  // Send segments into whatever window is advertised, never reading.
  for (let i = 0; i < 200 && last !== 0; i++) {
    r.stack.input(rawTcp({ seq: seq + off, ack, flags: ACK, payload: Buffer.alloc(1000, i) }));
    await new Promise((res) => setImmediate(res));
    const b = r.takeTcp().at(-1);
    if (b) {
      off = (b.ack - seq) >>> 0;
      last = b.window;
      windows.push(b.window);
    }
  }
  assert.equal(last, 0, "window closed");
  assert.ok(windows.every((w, i) => i === 0 || w <= windows[i - 1]!), "the window only shrinks while nobody reads");
  assert.ok(off <= 64 * 1024 && off >= 60 * 1000, `accepted ${off}`);
  assert.ok((conn as unknown as { bufferedBytes: number }).bufferedBytes + conn.readableLength <= 64 * 1024);
  // Beyond the window: not accepted.
  r.stack.input(rawTcp({ seq: seq + off, ack, flags: ACK, payload: Buffer.alloc(1000) }));
  assert.equal(r.takeTcp().at(-1)!.ack, (seq + off) >>> 0);
  // Read it all: a window update follows.
  let read = 0;
  conn.on("data", (d: Buffer) => (read += d.length));
  await until(() => read === off, 2000, "reads");
  await new Promise((res) => setImmediate(res));
  const upd = r.takeTcp().at(-1);
  assert.ok(upd && upd.window > 30000, `window update ${upd?.window}`);
  r.stack.close();
});

test("ICMP echo request gets an echo reply with swapped addresses and a valid checksum", () => {
  const r = new RawPeer();
  const body = Buffer.from("0800000012340001" + "61626364", "hex");
  body.writeUInt16BE(checksum(body, 0, body.length), 2);
  const ip = Buffer.alloc(20 + body.length);
  ip[0] = 0x45;
  ip.writeUInt16BE(ip.length, 2);
  ip[8] = 64;
  ip[9] = 1;
  Buffer.from([10, 0, 0, 2]).copy(ip, 12);
  Buffer.from([1, 1, 1, 1]).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip, 0, 20), 10);
  body.copy(ip, 20);
  r.stack.input(ip);
  const [rep] = r.take();
  assert.ok(rep);
  const p = parseIp(rep)!;
  assert.equal(p.proto, 1);
  assert.deepEqual([...p.src], [1, 1, 1, 1]);
  assert.equal(p.payload[0], 0);
  assert.equal(checksum(p.payload, 0, p.payload.length), 0);
  assert.equal(p.payload.subarray(4).toString("hex"), "1234000161626364");
});

test("UDP: datagrams carry the original endpoints; reply() builds a valid packet back (v4, v6, fragmented)", () => {
  const r = new RawPeer({ mtu: 1420 });
  r.stack.input(rawUdp("10.0.0.2", 5353, "10.99.0.1", 53, Buffer.from("query")));
  r.stack.input(rawUdp("fd00::2", 5353, "fd00::1", 53, Buffer.from("query6")));
  assert.equal(r.udp.length, 2);
  const [d4, d6] = r.udp as [typeof r.udp[0], typeof r.udp[0]];
  assert.deepEqual(d4.src, { address: "10.0.0.2", port: 5353 });
  assert.deepEqual(d4.dst, { address: "10.99.0.1", port: 53 });
  assert.equal(d4.payload.toString(), "query");
  assert.deepEqual(d6.dst, { address: "fd00::1", port: 53 });
  d4.reply(Buffer.from("answer"));
  d6.reply(Buffer.from("answer6"));
  const [p4, p6] = r.take();
  for (const [pkt, text, src, dst] of [[p4!, "answer", "10.99.0.1", "10.0.0.2"], [p6!, "answer6", "fd00::1", "fd00::2"]] as const) {
    const ip = parseIp(pkt)!;
    assert.equal(ip.proto, PROTO_UDP);
    const u = parseUdp(ip.payload, ip.v6, ip.src, ip.dst);
    assert.ok(u, "checksum valid");
    assert.equal(u.payload.toString(), text);
    assert.equal(u.srcPort, 53);
    assert.equal(u.dstPort, 5353);
    void src;
    void dst;
  }
  // Bad checksum: dropped.
  const bad = rawUdp("10.0.0.2", 1, "10.99.0.1", 53, Buffer.from("x"));
  bad[bad.length - 1]! ^= 1;
  r.stack.input(bad);
  assert.equal(r.udp.length, 2);
  // A 4000-byte IPv4 reply is fragmented to the MTU.
  d4.reply(Buffer.alloc(4000, 1));
  const frags = r.take();
  assert.equal(frags.length, 3);
  assert.ok(frags.every((f) => f.length <= 1420));
  const total = frags.reduce((n, f) => n + f.length - 20, 0);
  assert.equal(total, 4008);
  void pseudoSum;
});

test("hostile input: random and mutated packets never throw and leave the stack working", () => {
  const r = new RawPeer({ maxConnections: 64 });
  const rand = prng(7);
  const valid = [
    rawTcp({ flags: SYN, mss: 1200, wscale: 5 }),
    rawTcp({ flags: ACK | PSH, seq: 1, ack: 1, payload: Buffer.from("hello") }),
    rawUdp("10.0.0.2", 1, "10.0.0.1", 53, Buffer.from("dns")),
    rawTcp({ src: "fd00::2", dst: "fd00::1", flags: SYN }),
  ];
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 1500) {
    let p: Buffer;
    if (rand() < 0.3) {
      p = Buffer.alloc(Math.floor(rand() * 120));
      for (let i = 0; i < p.length; i++) p[i] = Math.floor(rand() * 256);
      if (p.length) p[0] = rand() < 0.5 ? 0x45 : 0x60;
    } else {
      p = Buffer.from(valid[Math.floor(rand() * valid.length)]!);
      const flips = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < flips; i++) p[Math.floor(rand() * p.length)] = Math.floor(rand() * 256);
      if (rand() < 0.3) p = p.subarray(0, Math.floor(rand() * p.length));
    }
    r.stack.input(p);
    n++;
  }
  assert.ok(n > 1000);
  r.take();
  // Still works (a SYN-ACK, or a RST if fuzzed SYNs filled the table).
  assert.ok(r.stack.connections <= 64);
  r.stack.input(rawTcp({ srcPort: 55555, flags: SYN }));
  assert.ok(r.takeTcp().some((s) => s.flags === (SYN | ACK) || s.flags === (RST | ACK)));
  r.stack.close();
  assert.equal(r.stack.connections, 0);
});

test("a receive batch of in-order segments gets one ACK at its end, and at once only every ACK_EVERY segments", async () => {
  const r = new RawPeer({ rcvBuf: 256 * 1024 });
  const { conn, seq, ack } = r.handshake({ wscale: 3 });
  conn.on("data", () => {});
  const burst = (from: number, n: number) => {
    for (let i = 0; i < n; i++) r.stack.input(rawTcp({ seq: seq + (from + i) * 1000, ack, flags: ACK, payload: Buffer.alloc(1000, from + i) }));
  };
  // One batch (synchronous, as the datagrams of one socket read are): nothing is ACKed during it…
  burst(0, 5);
  assert.equal(r.takeTcp().length, 0, "no ACK inside the batch");
  // …and one cumulative ACK right after it.
  await new Promise((res) => setImmediate(res));
  let acks = r.takeTcp();
  assert.deepEqual(acks.map((a) => a.ack), [(seq + 5000) >>> 0]);

  // A long batch is still ACKed at least every ACK_EVERY segments, then once more at its end.
  burst(5, 2 * ACK_EVERY + 3);
  acks = r.takeTcp();
  assert.deepEqual(acks.map((a) => a.ack), [(seq + (5 + ACK_EVERY) * 1000) >>> 0, (seq + (5 + 2 * ACK_EVERY) * 1000) >>> 0]);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(r.takeTcp().map((a) => a.ack), [(seq + (5 + 2 * ACK_EVERY + 3) * 1000) >>> 0]);

  // Out of order is never held for the batch end: the duplicate ACK goes at once.
  const next = 5 + 2 * ACK_EVERY + 3;
  r.stack.input(rawTcp({ seq: seq + (next + 1) * 1000, ack, flags: ACK, payload: Buffer.alloc(1000) }));
  assert.deepEqual(r.takeTcp().map((a) => a.ack), [(seq + next * 1000) >>> 0]);
  r.stack.close();
});

test("in-order segments of one batch reach the reader as one chunk, in order, and not before the batch ends", async () => {
  const r = new RawPeer({ rcvBuf: 256 * 1024 });
  const { conn, seq, ack } = r.handshake({ wscale: 3 });
  const got: Buffer[] = [];
  conn.on("data", (d: Buffer) => got.push(d));
  await new Promise((res) => setImmediate(res));
  const wire = Buffer.alloc(20 * 1000);
  for (let i = 0; i < wire.length; i++) wire[i] = (i * 7 + (i >> 8)) & 0xff;
  // The caller may reuse a packet's buffer once input() returns: the stack must copy what it holds.
  for (let i = 0; i < 20; i++) {
    const packet = rawTcp({ seq: seq + i * 1000, ack, flags: ACK, payload: wire.subarray(i * 1000, (i + 1) * 1000) });
    r.stack.input(packet);
    packet.fill(0xee);
  }
  assert.equal(got.length, 0, "nothing pushed inside the batch");
  await new Promise((res) => setImmediate(res));
  assert.equal(got.length, 1, `one chunk for the batch, got ${got.length}`);
  assert.ok(got[0]!.equals(wire), "the bytes, in order");

  // Batches larger than the join limit (64 KiB) arrive in several chunks, still in order and whole.
  got.length = 0;
  const big = Buffer.alloc(100 * 1000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
  for (let i = 0; i < 100; i++) r.stack.input(rawTcp({ seq: seq + 20_000 + i * 1000, ack, flags: ACK, payload: big.subarray(i * 1000, (i + 1) * 1000) }));
  await until(() => got.reduce((n, b) => n + b.length, 0) === big.length, 2000, "the big batch");
  assert.ok(got.length >= 2 && got.every((b) => b.length <= 64 * 1024), `chunks ${got.map((b) => b.length)}`);
  assert.ok(Buffer.concat(got).equals(big));
  r.stack.close();
});

test("SACK (RFC 2018): offered back only when the peer's SYN offers it; ACKs then report held out-of-order runs, the newest first", async () => {
  const plain = new RawPeer();
  const p = plain.handshake();
  assert.notEqual(p.synAck.sackOk, true, "not offered to a peer that did not offer it");
  plain.stack.input(rawTcp({ seq: p.seq + 1000, ack: p.ack, flags: ACK, payload: Buffer.alloc(100) }));
  const noSack = plain.takeTcp();
  assert.equal(noSack.length, 1);
  assert.equal(noSack[0]!.sack, undefined, "no SACK blocks without SACK-permitted");
  plain.stack.close();

  const r = new RawPeer();
  const { conn, seq, ack, synAck } = r.handshake({ sackOk: true });
  assert.equal(synAck.sackOk, true, "SACK-permitted echoed on the SYN-ACK");
  const got: Buffer[] = [];
  conn.on("data", (d: Buffer) => got.push(d));
  const send = (off: number, len: number) => r.stack.input(rawTcp({ seq: seq + off, ack, flags: ACK, payload: Buffer.alloc(len, off & 0xff) }));
  const lastAck = () => {
    const a = r.takeTcp();
    assert.equal(a.length, 1, "one immediate (duplicate) ACK per out-of-order segment");
    return a[0]!;
  };
  // Holes at [0,100), [300,400), [600,700); data arrives out of order.
  send(100, 100);
  let a = lastAck();
  assert.equal(a.ack, seq);
  assert.deepEqual(a.sack, [seq + 100, seq + 200]);
  send(400, 100);
  assert.deepEqual(lastAck().sack, [seq + 400, seq + 500, seq + 100, seq + 200], "the run just received first");
  send(200, 100); // joins the first run: [100,300)
  assert.deepEqual(lastAck().sack, [seq + 100, seq + 300, seq + 400, seq + 500]);
  send(700, 50);
  assert.deepEqual(lastAck().sack, [seq + 700, seq + 750, seq + 400, seq + 500, seq + 100, seq + 300]);
  send(500, 100); // extends [400,600)
  a = lastAck();
  assert.deepEqual(a.sack, [seq + 400, seq + 600, seq + 700, seq + 750, seq + 100, seq + 300]);
  // Five runs: only four blocks fit; the one holding the newest segment comes first.
  send(800, 10);
  send(900, 10);
  send(1000, 10);
  r.takeTcp();
  send(820, 10);
  a = lastAck();
  assert.equal(a.sack!.length, 8, "at most 4 blocks");
  assert.deepEqual(a.sack!.slice(0, 2), [seq + 820, seq + 830]);
  // The first hole fills: the cumulative ACK jumps to the next hole and only what is still held is reported.
  send(0, 100);
  a = r.takeTcp().at(-1)!;
  assert.equal(a.ack, (seq + 300) >>> 0);
  assert.ok(a.sack!.every((edge) => seqGe(edge, seq + 300)), `blocks above the cumulative ACK: ${a.sack}`);
  // Everything arrives: plain ACKs again, and the bytes are whole.
  send(300, 100);
  send(600, 100);
  send(750, 50);
  send(810, 10);
  send(830, 70);
  send(910, 90);
  await new Promise((res) => setImmediate(res));
  a = r.takeTcp().at(-1)!;
  assert.equal(a.ack, (seq + 1010) >>> 0);
  assert.equal(a.sack, undefined, "nothing held, nothing reported");
  assert.equal(Buffer.concat(got).length, 1010);
  r.stack.close();
});
