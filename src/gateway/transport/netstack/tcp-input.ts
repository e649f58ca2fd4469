/**
 * RFC 9293 §3.10.7 "SEGMENT ARRIVES": what a connection does with each
 * segment the stack demultiplexes to it. SYN-SENT handling (active open),
 * then for the other states the RFC's sequence of checks: acceptability
 * (with zero-window probes answered), RST and SYN per RFC 5961 (exact-match
 * reset, otherwise a challenge ACK), ACK processing (send buffer release,
 * RTT sampling, NewReno duplicate/partial ACKs, the SND.WL1/WL2 window
 * update), segment text (trimmed to the window, out-of-order pieces held in
 * a {@link Reassembly}), FIN, and when to ACK (at once, or coalesced).
 *
 * Separate from ./tcp-conn.ts, which holds the connection's state and its
 * stream sides: this is the receive-path state machine that drives them.
 * Plain functions over the connection (one call per segment, no closures).
 */
import type { TcpConn } from "./tcp-conn.js";
import { errWithCode, St, Timer } from "./tcp-defs.js";
import { sendAck, sendRst, sendSyn, trySend } from "./tcp-output.js";
import { Reassembly } from "./tcp-recv.js";
import { retransmitHead } from "./tcp-retransmit.js";
import {
  ACK, FIN, RST, SYN,
  seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt,
  type TcpSegment,
} from "./tcp-segment.js";

/**
 * Full segments received in order before an ACK is sent at once rather than
 * at the end of the receive batch. RFC 9293 asks for an ACK at least every
 * second full-sized segment; senders that count acknowledged bytes (Linux,
 * RFC 3465) grow their window the same on fewer, larger ACKs.
 */
export const ACK_EVERY = 16;

/** Processes one segment addressed to this connection (RFC 9293 §3.10.7). */
export function segmentArrives(c: TcpConn, seg: TcpSegment): void {
  switch (c.state) {
    case St.Closed:
      return;
    case St.SynSent:
      synSentArrives(c, seg);
      return;
    default:
      syncArrives(c, seg);
  }
}

/** SYN-SENT (active open): only a SYN-ACK for our SYN moves us on. */
function synSentArrives(c: TcpConn, seg: TcpSegment): void {
  const f = seg.flags;
  if (f & ACK) {
    if (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax)) {
      if (!(f & RST)) sendRst(c, seg.ack);
      return;
    }
  }
  if (f & RST) {
    if (f & ACK) c.abort(errWithCode("connect ECONNREFUSED", "ECONNREFUSED"), false);
    return;
  }
  if (!(f & SYN) || !(f & ACK)) return; // simultaneous open is not supported
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.applySynOptions(seg);
  c.sndUna = seg.ack;
  sampleRtt(c, seg.ack);
  c.retries = 0;
  c.sndWnd = seg.window;
  c.maxSndWnd = seg.window;
  c.sndWl1 = seg.seq;
  c.sndWl2 = seg.ack;
  c.rcvAdvEdge = c.rcvNxt;
  c.stopTimer();
  c.state = St.Established;
  if (c.finQueued) c.state = St.FinWait1;
  sendAck(c);
  c.emit("connect");
  trySend(c);
}

/** SYN-RECEIVED and the synchronized states, in the RFC's order of checks. */
function syncArrives(c: TcpConn, seg: TcpSegment): void {
  const f = seg.flags;
  let payload = seg.payload;
  let fin = (f & FIN) !== 0;
  let seq = seg.seq;

  // SYN_RECEIVED: a retransmitted SYN means our SYN-ACK was lost.
  if (c.state === St.SynReceived && f & SYN && !(f & ACK) && seq === c.irs) {
    if (!(f & RST)) sendSyn(c);
    return;
  }
  if (c.state === St.TimeWait && fin && !(f & RST) && seqAdd(seq, payload.length + 1) === c.rcvNxt) {
    // Retransmitted FIN: ACK it again and restart the 2MSL wait.
    sendAck(c);
    c.armTimer(Timer.TimeWait, c.host.tuning.timeWait);
    return;
  }

  // First: sequence number acceptability.
  const segLen = payload.length + (f & SYN ? 1 : 0) + (fin ? 1 : 0);
  const wnd = c.rcvWindow();
  let acceptable: boolean;
  if (segLen === 0) acceptable = wnd === 0 ? seq === c.rcvNxt : seqGe(seq, c.rcvNxt) && seqLt(seq, seqAdd(c.rcvNxt, wnd));
  else if (wnd === 0) acceptable = false;
  else {
    const last = seqAdd(seq, segLen - 1);
    const edge = seqAdd(c.rcvNxt, wnd);
    acceptable = (seqGe(seq, c.rcvNxt) && seqLt(seq, edge)) || (seqGe(last, c.rcvNxt) && seqLt(last, edge));
  }
  let zeroWindowProbe = false;
  if (!acceptable) {
    if (f & RST) return;
    if (wnd === 0 && seq === c.rcvNxt && f & ACK) {
      // Zero window: still process the ACK field, drop the text, answer (RFC 9293 §3.10.7.4).
      zeroWindowProbe = true;
      payload = payload.subarray(0, 0);
      fin = false;
    } else {
      sendAck(c);
      return;
    }
  }

  // Second: RST (RFC 5961 §3.2: exact match resets, otherwise a challenge ACK).
  if (f & RST) {
    if (seq !== c.rcvNxt) {
      sendAck(c);
      return;
    }
    if (c.state === St.SynReceived) c.abort(null, false);
    else if (c.state === St.Closing || c.state === St.LastAck || c.state === St.TimeWait) c.abort(null, false);
    else c.abort(errWithCode("read ECONNRESET", "ECONNRESET"), false);
    return;
  }

  // Fourth: SYN in a synchronized state — challenge ACK (RFC 5961 §4.2).
  if (f & SYN) {
    sendAck(c);
    return;
  }

  // Fifth: ACK.
  if (!(f & ACK)) return;
  if (c.state === St.SynReceived) {
    if (seqGt(seg.ack, c.sndUna) && seqLe(seg.ack, c.sndMax)) {
      c.sndUna = seg.ack;
      sampleRtt(c, seg.ack);
      c.retries = 0;
      c.sndWnd = seg.window * 2 ** c.sndShift;
      c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
      c.sndWl1 = seq;
      c.sndWl2 = seg.ack;
      c.stopTimer();
      c.state = St.Established;
      c.host.established(c);
      if (c.state !== St.Established) return; // destroyed by the handler
    } else {
      sendRst(c, seg.ack);
      return;
    }
  } else if (!processAck(c, seg, seq, payload.length > 0 || fin)) {
    return;
  }
  if (c.state === St.Closed) return;
  c.probeAnswered = true;

  // Seventh: segment text (trimmed to the window).
  let needAckNow = zeroWindowProbe;
  if (seqLt(seq, c.rcvNxt)) {
    const cut = seqDiff(c.rcvNxt, seq);
    if (cut >= payload.length) {
      if (payload.length > 0) needAckNow = true; // pure duplicate
      if (fin && cut > payload.length) fin = false;
      payload = payload.subarray(payload.length);
    } else payload = payload.subarray(cut);
    seq = c.rcvNxt;
  }
  const room = seqDiff(c.rcvAdvEdge, seq);
  if (payload.length > room) {
    payload = payload.subarray(0, Math.max(0, room));
    fin = false;
  }
  const receiving = c.canReceiveData();
  if (receiving && payload.length > 0) {
    if (seq === c.rcvNxt) {
      c.rcvNxt = seqAdd(c.rcvNxt, payload.length);
      c.deliver(Buffer.from(payload)); // the caller may reuse the packet's buffer
      if (c.ooo && c.ooo.size > 0) {
        const r = c.ooo.take(c.rcvNxt);
        c.rcvNxt = r.rcvNxt;
        for (const chunk of r.chunks) c.deliver(chunk);
        needAckNow = true; // filled a hole: ACK at once (RFC 5681 §4.2)
      }
      // In-order data is acknowledged when the stack flushes this connection at the
      // end of the receive batch: one ACK for the batch (as GRO makes Linux do), and
      // at once only past ACK_EVERY segments. See the netstack README ("ACKs").
      c.unackedSegs++;
      if (c.unackedSegs >= ACK_EVERY) needAckNow = true;
    } else {
      (c.ooo ??= new Reassembly()).insert(c.rcvNxt, seq, payload);
      c.lastOooSeq = seq;
      needAckNow = true; // out of order: immediate duplicate ACK
    }
  }
  // Eighth: FIN.
  if (fin && receiving) c.finRcvSeq = seqAdd(seq, payload.length);
  if (c.finRcvSeq >= 0 && !c.finRcvd && c.rcvNxt === c.finRcvSeq >>> 0) {
    c.finRcvd = true;
    c.rcvNxt = seqAdd(c.rcvNxt, 1);
    c.ooo?.clear();
    needAckNow = true;
    if (c.state === St.Established) c.state = St.CloseWait;
    else if (c.state === St.FinWait1) c.state = St.Closing;
    else if (c.state === St.FinWait2) enterTimeWait(c);
    c.drainPending();
  }
  if (payload.length > 0 || needAckNow) {
    if (needAckNow) {
      c.ackPending = true;
      if (c.canSendData()) trySend(c); // may carry the ACK
      if (c.ackPending && (c.state as St) !== St.Closed) sendAck(c);
    } else {
      c.ackPending = true;
      c.host.schedule(c);
    }
  }
}

/**
 * ACK processing in synchronized states. Returns false if the segment
 * must be dropped.
 */
function processAck(c: TcpConn, seg: TcpSegment, seq: number, carriesData: boolean): boolean {
  const ack = seg.ack;
  if (seqGt(ack, c.sndMax)) {
    sendAck(c); // acks something not yet sent
    return false;
  }
  if (seqLt(ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)))) {
    sendAck(c); // RFC 5961 §5.2: too old
    return false;
  }
  const newWnd = seg.window * 2 ** c.sndShift;
  // A live receiver advertising a zero window is not a dead one (RFC 1122 §4.2.2.17).
  if (newWnd === 0) c.retries = 0;
  const flight = seqDiff(c.sndMax, c.sndUna);
  if (seqGt(ack, c.sndUna)) {
    let acked = seqDiff(ack, c.sndUna);
    const dataAcked = Math.min(acked, seqDiff(c.dataEnd, c.bufStart));
    c.sendBuf.consume(Math.max(0, dataAcked));
    c.sndUna = ack;
    if (seqLt(c.sndNxt, ack)) c.sndNxt = ack;
    sampleRtt(c, ack);
    c.retries = 0;
    const partial = c.cc.onNewAck(acked, ack, flight, seqGe);
    acked = 0;
    if (c.sndUna === c.sndMax) c.stopTimer();
    else c.armTimer(Timer.Rtx, c.rtt.rto); // RFC 6298 §5.3
    if (partial) {
      c.counters.partialAcks++;
      retransmitHead(c);
    }
    c.releaseWriter();
    if (c.finQueued && seqGt(ack, c.finSeq)) ourFinAcked(c);
    if (c.state === St.Closed) return false;
  } else if (
    ack === c.sndUna &&
    !carriesData &&
    newWnd === c.sndWnd &&
    c.sndUna !== c.sndMax
  ) {
    const r = c.cc.onDupAck(ack, flight, c.sndMax, seqGt);
    if (r === "retransmit") {
      c.counters.fastRetransmits++;
      retransmitHead(c);
      c.armTimer(Timer.Rtx, c.rtt.rto);
    }
  }
  // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2 rule).
  if (seqLt(c.sndWl1, seq) || (c.sndWl1 === seq && seqLe(c.sndWl2, ack))) {
    c.sndWnd = newWnd;
    c.sndWl1 = seq;
    c.sndWl2 = ack;
    if (newWnd > c.maxSndWnd) c.maxSndWnd = newWnd;
  }
  if (c.canSendData()) trySend(c);
  if (c.timerKind === Timer.Persist && (c.sndUna !== c.sndMax || !hasUnsent(c))) c.stopTimer();
  return true;
}

/** Data or a FIN not sent yet (SND.NXT has not passed it). */
function hasUnsent(c: TcpConn): boolean {
  return seqGt(c.dataEnd, c.sndNxt) || (c.finQueued && seqLe(c.sndNxt, c.finSeq));
}

/** Feeds the RTO estimator if `ack` covers the segment being timed. */
function sampleRtt(c: TcpConn, ack: number): void {
  if (c.rttTime >= 0 && seqGe(ack, c.rttSeq)) {
    c.rtt.sample(performance.now() - c.rttTime);
    c.rttTime = -1;
  }
}

/** Our FIN was acknowledged: the close advances and the stream's final callback runs. */
function ourFinAcked(c: TcpConn): void {
  const cb = c.finalCb;
  c.finalCb = null;
  switch (c.state) {
    case St.FinWait1:
      c.state = St.FinWait2;
      break;
    case St.Closing:
      enterTimeWait(c);
      break;
    case St.LastAck:
      c.finishClose();
      break;
  }
  cb?.();
}

function enterTimeWait(c: TcpConn): void {
  c.state = St.TimeWait;
  c.sendBuf.clear();
  c.armTimer(Timer.TimeWait, c.host.tuning.timeWait);
}
