/**
 * UDP (RFC 768; IPv6 per RFC 8200 §8.1) parsing and datagram building, and
 * ICMP / ICMPv6 echo replies (RFC 792, RFC 4443 §4) for `ping` debugging.
 */
import { buildIp, checksum, fragmentIpv4, ipHeaderLen, pseudoSum, PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP } from "./ip4.js";

export interface UdpParsed {
  srcPort: number;
  dstPort: number;
  /** Aliases the input buffer. */
  payload: Buffer;
}

/** Parses a UDP datagram; null on bad length or checksum. */
export function parseUdp(buf: Buffer, v6: boolean, src: Buffer, dst: Buffer): UdpParsed | null {
  if (buf.length < 8) return null;
  const len = buf.readUInt16BE(4);
  if (len < 8 || len > buf.length) return null;
  const sum = buf.readUInt16BE(6);
  if (sum === 0) {
    if (v6) return null; // mandatory over IPv6
  } else if (checksum(buf, 0, len, pseudoSum(src, dst, PROTO_UDP, len)) !== 0) {
    return null;
  }
  return { srcPort: buf.readUInt16BE(0), dstPort: buf.readUInt16BE(2), payload: buf.subarray(8, len) };
}

/**
 * Builds IP packets carrying one UDP datagram from src to dst. IPv4
 * datagrams larger than the MTU are fragmented; IPv6 ones are dropped
 * (empty result) since only the source may fragment and we add no
 * fragment header.
 */
export function buildUdp(v6: boolean, src: Buffer, srcPort: number, dst: Buffer, dstPort: number, payload: Buffer, mtu: number): Buffer[] {
  const len = 8 + payload.length;
  if (len > 0xffff - ipHeaderLen(v6)) return [];
  const pkt = buildIp(v6, src, dst, PROTO_UDP, len, false);
  const o = ipHeaderLen(v6);
  pkt.writeUInt16BE(srcPort, o);
  pkt.writeUInt16BE(dstPort, o + 2);
  pkt.writeUInt16BE(len, o + 4);
  pkt.writeUInt16BE(0, o + 6);
  payload.copy(pkt, o + 8);
  let sum = checksum(pkt, o, o + len, pseudoSum(src, dst, PROTO_UDP, len));
  if (sum === 0) sum = 0xffff; // RFC 768: a computed zero is sent as all ones
  pkt.writeUInt16BE(sum, o + 6);
  if (pkt.length <= mtu) return [pkt];
  return v6 ? [] : fragmentIpv4(pkt, mtu);
}

/**
 * The echo reply for an ICMP (v4) or ICMPv6 echo request addressed from
 * `src` to `dst`, or null if `body` is not a valid echo request.
 */
export function echoReply(v6: boolean, src: Buffer, dst: Buffer, body: Buffer, mtu: number): Buffer | null {
  if (body.length < 8) return null;
  const proto = v6 ? PROTO_ICMPV6 : PROTO_ICMP;
  const pseudo = v6 ? pseudoSum(src, dst, proto, body.length) : 0;
  if (checksum(body, 0, body.length, pseudo) !== 0) return null;
  if (body[0] !== (v6 ? 128 : 8) || body[1] !== 0) return null;
  if (ipHeaderLen(v6) + body.length > mtu) return null;
  const pkt = buildIp(v6, dst, src, proto, body.length, false);
  const o = ipHeaderLen(v6);
  body.copy(pkt, o);
  pkt[o] = v6 ? 129 : 0;
  pkt.writeUInt16BE(0, o + 2);
  const rpseudo = v6 ? pseudoSum(dst, src, proto, body.length) : 0;
  pkt.writeUInt16BE(checksum(pkt, o, o + body.length, rpseudo), o + 2);
  return pkt;
}
