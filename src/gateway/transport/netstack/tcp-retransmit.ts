/**
 * Loss recovery: resending the first unacknowledged segment (timeout, fast
 * retransmit, NewReno partial ACK) and what the connection does when its
 * timer expires: SYN / SYN-ACK retransmission, the RFC 6298 retransmission
 * timeout (Karn, exponential backoff, RFC 5681 §3.1 window collapse, give up
 * after `maxRetries`), and the persist timer's zero-window probes
 * (RFC 9293 §3.8.6.1).
 *
 * Separate from ./tcp-output.ts (the normal send path) because these are the
 * rarely taken, failure-driven paths; ./tcp-conn.ts owns the timer itself
 * and dispatches its expiries here.
 */
import type { TcpConn } from "./tcp-conn.js";
import { errWithCode, St, Timer } from "./tcp-defs.js";
import { emitSegment, header, sendData, sendSyn } from "./tcp-output.js";
import { FIN, PSH, seqAdd, seqDiff, seqGt } from "./tcp-segment.js";

/**
 * Retransmits the first unacknowledged segment (timeout, fast retransmit,
 * partial ACK). Returns the sequence number just past it.
 */
export function retransmitHead(c: TcpConn): number {
  c.rttTime = -1; // Karn: no RTT sample while retransmitting
  const una = c.sndUna;
  const dataLeft = seqDiff(c.dataEnd, una);
  let end = una;
  if (dataLeft > 0) {
    const len = Math.min(dataLeft, c.mss);
    const fin = c.finQueued && len === dataLeft && seqGt(c.sndMax, c.finSeq);
    emitSegment(c, header(c, (fin ? FIN : 0) | PSH, una), seqDiff(una, c.bufStart), len);
    end = seqAdd(una, len + (fin ? 1 : 0));
  } else if (c.finQueued && una === c.finSeq) {
    emitSegment(c, header(c, FIN, una), 0, 0);
    end = seqAdd(una, 1);
  }
  c.lastSendTime = performance.now();
  return end;
}

/** The retransmission timer expired. */
export function retransmitTimeout(c: TcpConn): void {
  const st = c.state;
  if (st === St.SynReceived || st === St.SynSent) {
    c.retries++;
    if (c.retries > c.host.tuning.synRetries) {
      if (st === St.SynSent) c.abort(errWithCode("connect ETIMEDOUT", "ETIMEDOUT"), false);
      else c.abort(null, false); // forget the half-open connection silently
      return;
    }
    c.rtt.backoff();
    c.rttTime = -1;
    sendSyn(c);
    return;
  }
  if (c.sndUna === c.sndMax) return; // everything acknowledged
  c.retries++;
  if (c.retries > c.host.tuning.maxRetries) {
    c.abort(errWithCode("TCP retransmission timeout", "ETIMEDOUT"), true);
    return;
  }
  c.counters.timeouts++;
  const flight = seqDiff(c.sndMax, c.sndUna);
  c.cc.onTimeout(flight, c.retries === 1, c.sndMax);
  c.rtt.backoff();
  c.rttTime = -1;
  // Go back to SND.UNA: retransmit the first segment (even into a closed
  // window: the receiver answers with an ACK), the rest follows as ACKs
  // open the (now one-segment) congestion window.
  c.sndNxt = retransmitHead(c);
  c.armTimer(Timer.Rtx, c.rtt.rto);
}

/** The persist timer expired: fill a small window, or probe a zero one. */
export function persistTimeout(c: TcpConn): void {
  if (!c.canSendData()) return;
  if (!c.probeAnswered) {
    c.probes++;
    if (c.probes > c.host.tuning.maxRetries) {
      c.abort(errWithCode("TCP persist timeout", "ETIMEDOUT"), true);
      return;
    }
  } else {
    c.probes = 0;
  }
  const unsent = seqDiff(c.dataEnd, c.sndNxt);
  const usable = seqDiff(seqAdd(c.sndUna, Math.min(c.sndWnd, c.cc.cwnd)), c.sndNxt);
  const now = performance.now();
  if (usable > 0 && unsent > 0) {
    // SWS override: send what fits.
    const len = Math.min(unsent, usable, c.mss);
    sendData(c, c.sndNxt, len, c.finQueued && len === unsent, now);
    return;
  }
  if (usable > 0 && c.finQueued && c.sndNxt === c.finSeq) {
    sendData(c, c.sndNxt, 0, true, now);
    return;
  }
  // Zero window: probe with an already-acknowledged sequence number, which
  // any receiver must answer with an ACK carrying its window (RFC 9293 §3.8.6.1, §3.10.7.4).
  c.probeAnswered = false;
  c.counters.probes++;
  emitSegment(c, header(c, 0, seqAdd(c.sndUna, -1)), 0, 0);
  c.persistShift = Math.min(c.persistShift + 1, 16);
  const backoff = Math.min(c.rtt.rto * 2 ** c.persistShift, c.host.tuning.rtoMax);
  c.armTimer(Timer.Persist, backoff);
}
