/**
 * TCP segment header (RFC 9293 §3.1): parsing with checksum verification,
 * serialization, the options we use (MSS, RFC 7323 window scale, RFC 2018
 * SACK-permitted and — outgoing only — SACK blocks; timestamps are
 * recognised and ignored) and 32-bit sequence arithmetic.
 */
import { checksum } from "./ip4.js";

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** The raw 16-bit window field (unscaled). */
  window: number;
  /** MSS option (meaningful on SYN only). */
  mss?: number;
  /** Window scale shift option (meaningful on SYN only), already clamped to 14. */
  wscale?: number;
  /** SACK-permitted option (meaningful on SYN only, RFC 2018 §2). */
  sackOk?: boolean;
  /**
   * SACK blocks (RFC 2018 §3), as flat [left, right) pairs of sequence
   * numbers, at most {@link MAX_SACK_BLOCKS}. Parsed on input, but as a
   * sender this stack does not use them yet (NewReno recovery).
   */
  sack?: readonly number[];
  /** Text; aliases the input buffer. */
  payload: Buffer;
}

/** Fields of an outgoing segment: a parsed segment's, without the payload. */
export type TcpHeaderOut = Omit<TcpSegment, "payload">;

/** SACK blocks that fit in the 40 option bytes of a segment without timestamps (2 NOPs + 2 + 4 × 8). */
export const MAX_SACK_BLOCKS = 4;

/**
 * Parses a TCP segment. `pseudo` is the unfolded pseudo-header sum
 * ({@link pseudoSum}) for this segment's addresses and length. Returns null
 * on a bad checksum, a bad data offset or malformed options.
 */
export function parseTcp(buf: Buffer, pseudo: number): TcpSegment | null {
  if (buf.length < 20) return null;
  const doff = (buf[12]! >> 4) * 4;
  if (doff < 20 || doff > buf.length) return null;
  if (checksum(buf, 0, buf.length, pseudo) !== 0) return null;
  const seg: TcpSegment = {
    srcPort: buf.readUInt16BE(0),
    dstPort: buf.readUInt16BE(2),
    seq: buf.readUInt32BE(4),
    ack: buf.readUInt32BE(8),
    flags: buf[13]! & 0x3f,
    window: buf.readUInt16BE(14),
    payload: buf.subarray(doff),
  };
  for (let i = 20; i < doff; ) {
    const kind = buf[i]!;
    if (kind === 0) break; // end of option list
    if (kind === 1) {
      i++; // no-op
      continue;
    }
    if (i + 1 >= doff) return null;
    const len = buf[i + 1]!;
    if (len < 2 || i + len > doff) return null; // illegal length: drop (RFC 9293 §3.1 MUST-7)
    if (kind === 2 && len === 4) seg.mss = buf.readUInt16BE(i + 2);
    else if (kind === 3 && len === 3) seg.wscale = Math.min(buf[i + 2]!, 14); // RFC 7323 §2.3
    else if (kind === 4 && len === 2) seg.sackOk = true;
    else if (kind === 5 && len >= 10 && (len - 2) % 8 === 0) {
      const sack: number[] = [];
      for (let j = i + 2; j < i + len; j += 4) sack.push(buf.readUInt32BE(j));
      seg.sack = sack;
    }
    i += len;
  }
  return seg;
}

/** Header length (with options) of an outgoing segment. */
export function tcpHeaderLen(h: TcpHeaderOut): number {
  return (
    20 +
    (h.mss !== undefined ? 4 : 0) +
    (h.wscale !== undefined ? 4 : 0) +
    (h.sackOk ? 4 : 0) +
    (h.sack !== undefined && h.sack.length > 0 ? 4 + 4 * h.sack.length : 0)
  );
}

/**
 * Writes the header at buf[off] and computes the checksum over the header
 * and the `payloadLen` bytes that follow it (already in place). `pseudo` is
 * the pseudo-header sum for the whole segment length.
 */
export function writeTcp(buf: Buffer, off: number, h: TcpHeaderOut, payloadLen: number, pseudo: number): void {
  const hl = tcpHeaderLen(h);
  buf.writeUInt16BE(h.srcPort, off);
  buf.writeUInt16BE(h.dstPort, off + 2);
  buf.writeUInt32BE(h.seq >>> 0, off + 4);
  buf.writeUInt32BE(h.ack >>> 0, off + 8);
  buf[off + 12] = (hl / 4) << 4;
  buf[off + 13] = h.flags;
  buf.writeUInt16BE(h.window, off + 14);
  buf.writeUInt32BE(0, off + 16); // checksum + urgent pointer
  let o = off + 20;
  if (h.mss !== undefined) {
    buf[o] = 2;
    buf[o + 1] = 4;
    buf.writeUInt16BE(h.mss, o + 2);
    o += 4;
  }
  if (h.wscale !== undefined) {
    buf[o] = 1; // NOP for alignment
    buf[o + 1] = 3;
    buf[o + 2] = 3;
    buf[o + 3] = h.wscale;
    o += 4;
  }
  if (h.sackOk) {
    buf[o] = 1; // NOP, NOP for alignment
    buf[o + 1] = 1;
    buf[o + 2] = 4;
    buf[o + 3] = 2;
    o += 4;
  }
  if (h.sack !== undefined && h.sack.length > 0) {
    buf[o] = 1;
    buf[o + 1] = 1;
    buf[o + 2] = 5;
    buf[o + 3] = 2 + 4 * h.sack.length;
    o += 4;
    for (const edge of h.sack) {
      buf.writeUInt32BE(edge >>> 0, o);
      o += 4;
    }
  }
  buf.writeUInt16BE(checksum(buf, off, off + hl + payloadLen, pseudo), off + 16);
}

// --- sequence-number arithmetic (mod 2^32, RFC 9293 §3.4) ---

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a − b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
