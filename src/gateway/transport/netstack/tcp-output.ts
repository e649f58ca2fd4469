/**
 * Everything a connection puts on the wire in the normal course: building
 * and sending segments (SYN / SYN-ACK, bare ACKs, RSTs, data), the window we
 * advertise (receiver SWS avoidance, RFC 1122 §4.2.3.3), and the send loop
 * that moves queued bytes out within min(peer window, cwnd) with sender SWS
 * avoidance (RFC 1122 §4.2.3.4, Nagle off) and limited transmit (RFC 3042).
 *
 * Separate from ./tcp-conn.ts (the connection's state and stream sides) and
 * ./tcp-retransmit.ts (what happens when segments are lost). Plain functions
 * over the connection's internal state: no allocation beyond the segment.
 */
import { buildIp, ipHeaderLen, PROTO_TCP } from "./ip4.js";
import type { TcpConn } from "./tcp-conn.js";
import { St, Timer } from "./tcp-defs.js";
import {
  ACK, FIN, MAX_SACK_BLOCKS, PSH, RST, SYN,
  seqAdd, seqDiff, seqGe, seqGt, seqLe,
  tcpHeaderLen, writeTcp,
  type TcpHeaderOut,
} from "./tcp-segment.js";

/** Sends our SYN (active open) or SYN-ACK (passive open) and arms the retransmission timer. */
export function sendSyn(c: TcpConn): void {
  const synAck = c.state === St.SynReceived;
  const h: TcpHeaderOut = {
    srcPort: c.localPort,
    dstPort: c.remotePort,
    seq: c.iss,
    ack: synAck ? c.rcvNxt : 0,
    flags: synAck ? SYN | ACK : SYN,
    window: Math.min(c.host.tuning.rcvBuf, 0xffff),
    mss: c.ourMss,
  };
  // In SYN_SENT we always offer window scaling and SACK; in SYN_RECEIVED only what the peer did (RFC 7323 §1.3, RFC 2018 §2).
  if (!synAck || c.wscaleOk) h.wscale = c.rcvShift;
  if (!synAck || c.sackOk) h.sackOk = true;
  c.rcvAdvEdge = seqAdd(c.rcvNxt, h.window);
  emitSegment(c, h, 0, 0);
  if (seqLe(c.sndMax, c.iss)) c.sndMax = seqAdd(c.iss, 1);
  c.sndNxt = seqAdd(c.iss, 1);
  if (c.rttTime < 0 && c.retries === 0) {
    c.rttTime = performance.now();
    c.rttSeq = c.sndNxt;
  }
  c.armTimer(Timer.Rtx, c.rtt.rto);
}

/** The window field to advertise now (and the new right edge). */
function windowField(c: TcpConn): number {
  const free = c.rcvSpace();
  const cur = c.rcvWindow();
  let wnd = cur;
  if (free > cur && free - cur >= c.windowStep()) wnd = free;
  const shift = c.rcvShift;
  let field = Math.min(0xffff, Math.ceil(wnd / 2 ** shift));
  if (wnd > cur) field = Math.min(0xffff, Math.floor(wnd / 2 ** shift)); // rounding down when opening
  if (field * 2 ** shift < cur) field = Math.min(0xffff, Math.ceil(cur / 2 ** shift)); // never shrink
  c.rcvAdvEdge = seqAdd(c.rcvNxt, field * 2 ** shift);
  return field;
}

/** Builds and sends one segment; `len` bytes come from the send buffer at `bufOff`. */
export function emitSegment(c: TcpConn, h: TcpHeaderOut, bufOff: number, len: number): void {
  const hl = tcpHeaderLen(h);
  const ihl = ipHeaderLen(c.v6);
  const pkt = buildIp(c.v6, c.localAddr, c.remoteAddr, PROTO_TCP, hl + len);
  if (len > 0) c.sendBuf.copyOut(bufOff, len, pkt, ihl + hl);
  writeTcp(pkt, ihl, h, len, c.pseudoBase + hl + len);
  if (h.flags & ACK) {
    c.ackPending = false;
    c.unackedSegs = 0;
  }
  c.host.send(pkt);
}

/** A segment with our current ACK/window. */
export function header(c: TcpConn, flags: number, seq: number): TcpHeaderOut {
  return {
    srcPort: c.localPort,
    dstPort: c.remotePort,
    seq,
    ack: c.rcvNxt,
    flags: flags | ACK,
    window: windowField(c),
  };
}

/**
 * A bare ACK. Its sequence number is the highest we have sent (SND.NXT in
 * RFC terms; our sndNxt is the transmit pointer, which falls back after a
 * timeout) so the peer, whose RCV.NXT may already be past a segment we
 * are about to retransmit, finds it acceptable.
 */
export function sendAck(c: TcpConn): void {
  const h = header(c, 0, c.sndMax);
  // Held out-of-order data is reported on bare ACKs (data segments keep their full MSS).
  if (c.sackOk && c.ooo !== null && c.ooo.size > 0) h.sack = c.ooo.sackBlocks(MAX_SACK_BLOCKS, c.lastOooSeq);
  emitSegment(c, h, 0, 0);
}

export function sendRst(c: TcpConn, seq: number): void {
  emitSegment(c, { srcPort: c.localPort, dstPort: c.remotePort, seq, ack: 0, flags: RST, window: 0 }, 0, 0);
}

/** Sends what the windows allow; arms the persist timer if data waits for window. */
export function trySend(c: TcpConn): void {
  const mss = c.mss;
  const now = performance.now();
  // RFC 5681 §4.1: restart window after an idle period longer than the RTO.
  if (c.sndUna === c.sndMax && c.lastSendTime > 0 && now - c.lastSendTime > c.rtt.rto) c.cc.onIdleRestart();
  for (;;) {
    const dataEnd = c.dataEnd;
    const unsent = seqDiff(dataEnd, c.sndNxt);
    // RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment out.
    const limited = !c.cc.inRecovery && c.cc.dupAcks <= 2 ? c.cc.dupAcks * mss : 0;
    const wnd = Math.min(c.sndWnd, c.cc.cwnd + limited);
    const usable = seqDiff(seqAdd(c.sndUna, wnd), c.sndNxt);
    if (unsent > 0) {
      let len = Math.min(unsent, mss, usable);
      if (len <= 0) break;
      // Sender SWS avoidance: a full segment, everything we have, or half the peer's largest window.
      if (len < mss && len < unsent && len < c.maxSndWnd / 2) break;
      const fin = c.finQueued && len === unsent;
      sendData(c, c.sndNxt, len, fin, now);
      continue;
    }
    if (c.finQueued && c.sndNxt === c.finSeq) {
      sendData(c, c.sndNxt, 0, true, now);
    }
    break;
  }
  // Nothing outstanding but something waits for window: persist timer.
  if (c.sndUna === c.sndMax && (seqGt(c.dataEnd, c.sndNxt) || (c.finQueued && c.sndNxt === c.finSeq))) {
    if (c.timerKind !== Timer.Persist) {
      c.probes = 0;
      c.persistShift = 0;
      c.armTimer(Timer.Persist, c.rtt.rto);
    }
  }
}

/** Sends [seq, seq+len) from the buffer (+FIN) and advances SND.NXT. */
export function sendData(c: TcpConn, seq: number, len: number, fin: boolean, now: number): void {
  const flags = (fin ? FIN : 0) | (len > 0 ? PSH : 0);
  emitSegment(c, header(c, flags, seq), seqDiff(seq, c.bufStart), len);
  const end = seqAdd(seq, len + (fin ? 1 : 0));
  const isNew = seqGe(seq, c.sndMax);
  if (seqGt(end, c.sndNxt)) c.sndNxt = end;
  if (seqGt(end, c.sndMax)) c.sndMax = end;
  if (isNew && c.rttTime < 0) {
    c.rttTime = now;
    c.rttSeq = end;
  }
  c.lastSendTime = now;
  if (c.timerKind !== Timer.Rtx) c.armTimer(Timer.Rtx, c.rtt.rto);
}
