import { test } from "node:test";
import assert from "node:assert/strict";
import { prng } from "../../../testing/prng.js";
import { parseAddr, pseudoSum, PROTO_TCP } from "./ip4.js";
import { ACK, FIN, PSH, SYN, parseTcp, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, tcpHeaderLen, writeTcp, type TcpHeaderOut } from "./tcp-segment.js";

const SRC = parseAddr("10.0.0.2")!;
const DST = parseAddr("93.184.216.34")!;

function build(h: TcpHeaderOut, payload: Buffer): Buffer {
  const hl = tcpHeaderLen(h);
  const b = Buffer.alloc(hl + payload.length);
  payload.copy(b, hl);
  writeTcp(b, 0, h, payload.length, pseudoSum(SRC, DST, PROTO_TCP, b.length));
  return b;
}

test("TCP segment serialize ⇄ parse round trip (options, payload, wrap-around sequence numbers)", () => {
  const r = prng(11);
  for (let i = 0; i < 500; i++) {
    const h: TcpHeaderOut = {
      srcPort: 1 + Math.floor(r() * 65535),
      dstPort: 1 + Math.floor(r() * 65535),
      seq: Math.floor(r() * 2 ** 32),
      ack: Math.floor(r() * 2 ** 32),
      flags: [SYN, SYN | ACK, ACK, ACK | PSH, FIN | ACK][i % 5]!,
      window: Math.floor(r() * 65536),
    };
    if (r() < 0.5) h.mss = Math.floor(r() * 65536);
    if (r() < 0.5) h.wscale = Math.floor(r() * 15);
    const payload = Buffer.alloc(Math.floor(r() * 1500), i & 0xff);
    const b = build(h, payload);
    const s = parseTcp(b, pseudoSum(SRC, DST, PROTO_TCP, b.length))!;
    assert.ok(s, "checksum verifies");
    assert.equal(s.srcPort, h.srcPort);
    assert.equal(s.dstPort, h.dstPort);
    assert.equal(s.seq, h.seq);
    assert.equal(s.ack, h.ack);
    assert.equal(s.flags, h.flags);
    assert.equal(s.window, h.window);
    assert.equal(s.mss, h.mss);
    assert.equal(s.wscale, h.wscale);
    assert.ok(s.payload.equals(payload));
  }
});

test("TCP parse: a flipped bit, a wrong pseudo-header, bad data offset or option lengths ⇒ null", () => {
  const h: TcpHeaderOut = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: SYN, window: 5, mss: 1460, wscale: 7 };
  const b = build(h, Buffer.from("data"));
  const ps = pseudoSum(SRC, DST, PROTO_TCP, b.length);
  assert.ok(parseTcp(b, ps));
  for (let bit = 0; bit < b.length * 8; bit += 7) {
    const c = Buffer.from(b);
    c[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(parseTcp(c, ps), null, `bit ${bit}`);
  }
  assert.equal(parseTcp(b, pseudoSum(SRC, parseAddr("1.1.1.1")!, PROTO_TCP, b.length)), null);
  // Data offset beyond the segment / below 5 (checksum fixed up so only the offset is wrong).
  const fix = (c: Buffer) => {
    c.writeUInt16BE(0, 16);
    let s = ps;
    for (let i = 0; i < c.length; i += 2) s += (c[i]! << 8) | (c[i + 1] ?? 0);
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
    c.writeUInt16BE(~s & 0xffff, 16);
    return c;
  };
  const off = Buffer.from(b);
  off[12] = 0xf0;
  assert.equal(parseTcp(fix(off), ps), null);
  const low = Buffer.from(b);
  low[12] = 0x40;
  assert.equal(parseTcp(fix(low), ps), null);
  // Option with length 0 / running past the header.
  const opt = Buffer.from(b);
  opt[21] = 0;
  assert.equal(parseTcp(fix(opt), ps), null);
  const opt2 = Buffer.from(b);
  opt2[26] = 40; // window-scale option length runs past the header
  assert.equal(parseTcp(fix(opt2), ps), null);
  assert.equal(parseTcp(b.subarray(0, 19), ps), null);
  // Window scale > 14 is clamped (RFC 7323 §2.3).
  const big = build({ ...h, wscale: 200 }, Buffer.alloc(0));
  assert.equal(parseTcp(big, pseudoSum(SRC, DST, PROTO_TCP, big.length))!.wscale, 14);
});

test("sequence arithmetic wraps modulo 2^32", () => {
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqAdd(5, -6), 0xffffffff);
  assert.equal(seqDiff(2, 0xfffffffe), 4);
  assert.ok(seqLt(0xfffffff0, 0x10));
  assert.ok(seqGt(0x10, 0xfffffff0));
  assert.ok(seqLe(7, 7) && seqGe(7, 7));
  assert.ok(!seqLt(0x10, 0xfffffff0));
});
