import { test } from "node:test";
import assert from "node:assert/strict";
import { prng } from "../../../testing/prng.js";
import { addrToString, buildIp, checksum, fold, fragmentIpv4, parseAddr, parseIp, pseudoSum, sum16, PROTO_TCP, PROTO_UDP } from "./ip4.js";

test("Internet checksum: RFC 1071 §3 example and odd lengths", () => {
  const b = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(fold(sum16(b, 0, b.length)), 0xddf2);
  assert.equal(checksum(b, 0, b.length), 0x220d);
  // Odd length: the last byte is padded with zero on the right.
  assert.equal(fold(sum16(Buffer.from([0x12, 0x34, 0x56]), 0, 3)), 0x1234 + 0x5600);
  // Appending the checksum makes the total verify to 0.
  const r = prng(3);
  for (let i = 0; i < 200; i++) {
    const n = 2 * Math.floor(r() * 700);
    const d = Buffer.alloc(n + 2);
    for (let k = 0; k < n; k++) d[k] = Math.floor(r() * 256);
    d.writeUInt16BE(checksum(d, 0, n), n);
    assert.equal(checksum(d, 0, d.length), 0);
  }
});

test("IPv4: a captured header parses (checksum verified); corruption, truncation and fragments are dropped", () => {
  // 20-byte header of a real packet (Wikipedia's IPv4 checksum example): 45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7
  const hdr = Buffer.from("450000730000400040 11b861c0a80001c0a800c7".replace(/ /g, ""), "hex");
  const pkt = Buffer.concat([hdr, Buffer.alloc(0x73 - 20, 0xaa), Buffer.alloc(4)]); // + link padding
  const ip = parseIp(pkt)!;
  assert.ok(ip);
  assert.equal(ip.v6, false);
  assert.equal(ip.proto, PROTO_UDP);
  assert.equal(addrToString(ip.src), "192.168.0.1");
  assert.equal(addrToString(ip.dst), "192.168.0.199");
  assert.equal(ip.payload.length, 0x73 - 20, "total length honoured, padding removed");
  const bad = Buffer.from(pkt);
  bad[8] = 63; // TTL changed without fixing the checksum
  assert.equal(parseIp(bad), null);
  assert.equal(parseIp(pkt.subarray(0, 19)), null);
  assert.equal(parseIp(pkt.subarray(0, 60)), null, "shorter than total length");
  // More-fragments / offset set: dropped.
  for (const ff of [0x2000, 0x0001, 0x6000]) {
    const f = Buffer.from(pkt);
    f.writeUInt16BE(ff, 6);
    f.writeUInt16BE(0, 10);
    f.writeUInt16BE(checksum(f, 0, 20), 10);
    assert.equal(parseIp(f), null);
  }
  // IHL < 5, version 5: dropped.
  const ihl = Buffer.from(pkt);
  ihl[0] = 0x44;
  assert.equal(parseIp(ihl), null);
  assert.equal(parseIp(Buffer.from([0x50, 0, 0, 0])), null);
});

test("IPv4/IPv6 build ⇄ parse round trip; IPv6 with extension headers is dropped", () => {
  for (const [s, d] of [["10.0.0.2", "93.184.216.34"], ["fd00::2", "2001:db8::1"]] as const) {
    const src = parseAddr(s)!;
    const dst = parseAddr(d)!;
    const pkt = buildIp(src.length === 16, src, dst, PROTO_TCP, 7);
    pkt.fill(9, pkt.length - 7);
    const ip = parseIp(pkt)!;
    assert.equal(addrToString(ip.src), s);
    assert.equal(addrToString(ip.dst), d);
    assert.equal(ip.proto, PROTO_TCP);
    assert.deepEqual([...ip.payload], [9, 9, 9, 9, 9, 9, 9]);
  }
  const v6 = buildIp(true, parseAddr("::1")!, parseAddr("::2")!, 0 /* hop-by-hop */, 8);
  assert.equal(parseIp(v6), null);
});

test("pseudo-header sum matches a hand computation (IPv4 and IPv6)", () => {
  const s = parseAddr("192.0.2.1")!;
  const d = parseAddr("198.51.100.2")!;
  const manual = 0xc000 + 0x0201 + 0xc633 + 0x6402 + 6 + 20;
  assert.equal(fold(pseudoSum(s, d, 6, 20)), fold(manual));
  const s6 = parseAddr("2001:db8::1")!;
  const d6 = parseAddr("2001:db8::2")!;
  assert.equal(fold(pseudoSum(s6, d6, 17, 70000)), fold(0x2001 + 0x0db8 + 1 + 0x2001 + 0x0db8 + 2 + 17 + 1 + (70000 - 65536)));
});

test("address text: dotted quads and RFC 5952 IPv6", () => {
  const cases = ["0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8::1", "fe80::1:2", "2001:db8:0:1:1:1:1:1", "1::", "::ffff:1.2.3.4", "2001:0:0:1::1"];
  for (const c of cases) assert.equal(addrToString(parseAddr(c)!), c);
  assert.equal(addrToString(parseAddr("2001:DB8:0:0:0:0:0:1")!), "2001:db8::1");
  for (const bad of ["1.2.3", "1.2.3.256", "::1::", "12345::", "1:2:3:4:5:6:7:8:9", "a.b.c.d", "1:2:3:4:5:6:7::8"]) assert.equal(parseAddr(bad), null, bad);
});

test("IPv4 fragmentation for oversized UDP replies: 8-byte aligned, MF on all but the last, each header valid", () => {
  const src = parseAddr("10.0.0.1")!;
  const dst = parseAddr("10.0.0.2")!;
  const pkt = buildIp(false, src, dst, PROTO_UDP, 3000, false);
  for (let i = 20; i < pkt.length; i++) pkt[i] = i & 0xff;
  const frags = fragmentIpv4(pkt, 1420);
  assert.equal(frags.length, 3);
  let off = 0;
  frags.forEach((f, i) => {
    assert.ok(f.length <= 1420);
    assert.equal(checksum(f, 0, 20), 0);
    const ff = f.readUInt16BE(6);
    assert.equal((ff & 0x1fff) * 8, off);
    assert.equal((ff & 0x2000) !== 0, i < 2);
    assert.ok(f.subarray(20).equals(pkt.subarray(20 + off, 20 + off + f.length - 20)));
    off += f.length - 20;
  });
  assert.equal(off, 3000);
});
