/**
 * IP layer: parsing and building IPv4 (RFC 791) and IPv6 (RFC 8200) packets,
 * the Internet checksum (RFC 1071) and the transport pseudo-header sums.
 *
 * Policy (documented in README.md of this folder):
 * - IPv4 header checksum is verified; options are skipped; fragments (MF set
 *   or a non-zero offset) are dropped — the peer is a tunnel endpoint that
 *   sends MSS-sized TCP with DF, so reassembly buys nothing but attack
 *   surface. Outgoing UDP larger than the MTU is fragmented (IPv4 only).
 * - IPv6: packets whose first next-header is not TCP, UDP or ICMPv6 (i.e.
 *   that carry extension headers) are dropped.
 * - Nothing here throws on hostile input: parse functions return null.
 */

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

/**
 * Unfolded one's-complement partial sum of big-endian 16-bit words of
 * buf[start, end) added to `acc` (an odd trailing byte is padded with zero).
 * Stays exact in a double for any packet size; fold with {@link fold}.
 */
export function sum16(buf: Uint8Array, start: number, end: number, acc = 0): number {
  let s = acc;
  let i = start;
  const last = end - 1;
  for (; i < last; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  return s;
}

/** Folds an unfolded sum into 16 bits (end-around carry). */
export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The Internet checksum (the complement of the folded sum) of buf[start, end) plus `acc`. */
export function checksum(buf: Uint8Array, start: number, end: number, acc = 0): number {
  return ~fold(sum16(buf, start, end, acc)) & 0xffff;
}

/**
 * The unfolded pseudo-header sum for TCP/UDP/ICMPv6 checksums: both
 * addresses, the protocol and the upper-layer length. The same formula is
 * right for IPv4 (RFC 793 §3.1: 16-bit length) and IPv6 (RFC 8200 §8.1:
 * 32-bit length) since one's-complement addition is word-order independent.
 */
export function pseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  return sum16(src, 0, src.length, sum16(dst, 0, dst.length)) + proto + (len >>> 16) + (len & 0xffff);
}

/** A parsed IP packet. Slices alias the input buffer. */
export interface IpPacket {
  v6: boolean;
  src: Buffer;
  dst: Buffer;
  /** IPv4 protocol / IPv6 next header. */
  proto: number;
  /** The upper-layer bytes (total length honoured, link padding removed). */
  payload: Buffer;
}

/** Parses an IPv4 or IPv6 packet; null if it is malformed, a fragment, or carries IPv6 extension headers. */
export function parseIp(pkt: Buffer): IpPacket | null {
  if (pkt.length < 1) return null;
  const version = pkt[0]! >> 4;
  if (version === 4) return parseIpv4(pkt);
  if (version === 6) return parseIpv6(pkt);
  return null;
}

function parseIpv4(pkt: Buffer): IpPacket | null {
  if (pkt.length < 20) return null;
  const ihl = (pkt[0]! & 0x0f) * 4;
  if (ihl < 20 || ihl > pkt.length) return null;
  const total = pkt.readUInt16BE(2);
  if (total < ihl || total > pkt.length) return null;
  if (checksum(pkt, 0, ihl) !== 0) return null;
  const flagsFrag = pkt.readUInt16BE(6);
  // MF (0x2000) or a fragment offset: a fragment. Dropped (see header comment).
  if ((flagsFrag & 0x3fff) !== 0) return null;
  return {
    v6: false,
    src: pkt.subarray(12, 16),
    dst: pkt.subarray(16, 20),
    proto: pkt[9]!,
    payload: pkt.subarray(ihl, total),
  };
}

function parseIpv6(pkt: Buffer): IpPacket | null {
  if (pkt.length < 40) return null;
  const plen = pkt.readUInt16BE(4);
  if (40 + plen > pkt.length) return null; // jumbograms (plen 0 + HBH option) are not supported either
  const nh = pkt[6]!;
  if (nh !== PROTO_TCP && nh !== PROTO_UDP && nh !== PROTO_ICMPV6) return null;
  return {
    v6: true,
    src: pkt.subarray(8, 24),
    dst: pkt.subarray(24, 40),
    proto: nh,
    payload: pkt.subarray(40, 40 + plen),
  };
}

let ipv4Id = (Math.random() * 0x10000) | 0;

/** IP header length for a family. */
export function ipHeaderLen(v6: boolean): number {
  return v6 ? 40 : 20;
}

/**
 * Allocates a packet of header + `l4len` bytes from `src` to `dst` and fills
 * in the IP header (checksum included). The caller writes the upper layer
 * at offset {@link ipHeaderLen}.
 */
export function buildIp(v6: boolean, src: Uint8Array, dst: Uint8Array, proto: number, l4len: number, df = true): Buffer {
  const hl = v6 ? 40 : 20;
  const pkt = Buffer.allocUnsafe(hl + l4len);
  writeIpHeader(pkt, v6, src, dst, proto, l4len, df);
  return pkt;
}

function writeIpHeader(pkt: Buffer, v6: boolean, src: Uint8Array, dst: Uint8Array, proto: number, l4len: number, df: boolean): void {
  if (v6) {
    pkt.writeUInt32BE(0x60000000, 0);
    pkt.writeUInt16BE(l4len, 4);
    pkt[6] = proto;
    pkt[7] = 64;
    pkt.set(src, 8);
    pkt.set(dst, 24);
    return;
  }
  pkt[0] = 0x45;
  pkt[1] = 0;
  pkt.writeUInt16BE(20 + l4len, 2);
  ipv4Id = (ipv4Id + 1) & 0xffff;
  pkt.writeUInt16BE(ipv4Id, 4);
  pkt.writeUInt16BE(df ? 0x4000 : 0, 6);
  pkt[8] = 64;
  pkt[9] = proto;
  pkt.writeUInt16BE(0, 10);
  pkt.set(src, 12);
  pkt.set(dst, 16);
  pkt.writeUInt16BE(checksum(pkt, 0, 20), 10);
}

/**
 * Splits an IPv4 packet (20-byte header, as built by {@link buildIp}) into
 * fragments that fit `mtu` (RFC 791 §3.2 fragmentation procedure). Returns
 * the packet itself when it fits.
 */
export function fragmentIpv4(pkt: Buffer, mtu: number): Buffer[] {
  if (pkt.length <= mtu) return [pkt];
  const data = pkt.subarray(20);
  const per = Math.floor((mtu - 20) / 8) * 8;
  if (per <= 0) return [];
  const out: Buffer[] = [];
  const id = pkt.readUInt16BE(4);
  for (let off = 0; off < data.length; off += per) {
    const n = Math.min(per, data.length - off);
    const more = off + n < data.length;
    const f = Buffer.allocUnsafe(20 + n);
    pkt.copy(f, 0, 0, 20);
    f.writeUInt16BE(20 + n, 2);
    f.writeUInt16BE(id, 4);
    f.writeUInt16BE((more ? 0x2000 : 0) | (off / 8), 6);
    f.writeUInt16BE(0, 10);
    f.writeUInt16BE(checksum(f, 0, 20), 10);
    data.copy(f, 20, off, off + n);
    out.push(f);
  }
  return out;
}

/** Dotted quad / RFC 5952 text for a 4- or 16-byte address. */
export function addrToString(a: Uint8Array): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a[i]! << 8) | a[i + 1]!);
  // Longest run (≥ 2) of zero words becomes "::" (first one on ties).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped (::ffff:a.b.c.d) keeps its dotted tail.
  if (bestAt === 0 && bestLen === 5 && words[5] === 0xffff) {
    return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** Parses a dotted quad or an IPv6 literal (no zone) into bytes; null if invalid. */
export function parseAddr(s: string): Buffer | null {
  if (s.includes(":")) return parseV6(s);
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const b = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    b[i] = Number(p);
  }
  return b;
}

function parseV6(s: string): Buffer | null {
  if (s.includes(".")) {
    // Embedded dotted quad (::ffff:1.2.3.4): rewrite as two hex words.
    const colon = s.lastIndexOf(":");
    const v4 = parseAddr(s.slice(colon + 1));
    if (!v4) return null;
    s = `${s.slice(0, colon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === "" ? [] : h.split(":").map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const gap = 8 - head.length - rest.length;
  if (halves.length === 2 && gap < 1) return null;
  const words = halves.length === 2 ? [...head, ...new Array<number>(gap).fill(0), ...rest] : head;
  if (words.length !== 8 || words.some((w) => Number.isNaN(w))) return null;
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/** True for addresses a TCP SYN or an echo must never be answered from/to (RFC 1122 §4.2.3.10, §3.2.2.6). */
export function isMulticastOrBroadcast(a: Uint8Array): boolean {
  if (a.length === 4) return (a[0]! & 0xf0) === 0xe0 || (a[0] === 255 && a[1] === 255 && a[2] === 255 && a[3] === 255);
  return a[0] === 0xff;
}
