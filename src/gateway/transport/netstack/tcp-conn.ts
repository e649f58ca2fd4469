/**
 * One TCP connection (RFC 9293 state machine) exposed as a Node Duplex.
 *
 * - Passive open is the normal case (the stack accepts SYNs to any
 *   destination); active open exists for tests (two stacks back to back).
 * - Send side: a bounded send buffer ({@link TcpTuning.sndBuf}); the
 *   Duplex write callback is held while more than that is queued, so a slow
 *   peer backpressures the writer. Sends respect min(peer window, cwnd),
 *   sender SWS avoidance (RFC 1122 §4.2.3.4, Nagle off), RFC 6298 RTO with
 *   exponential backoff (Karn), RFC 5681/6582 fast retransmit and NewReno
 *   recovery, and zero-window probing.
 * - Receive side: in-order data is pushed to the readable side only while
 *   the consumer wants it (push() returned true / _read was called); the
 *   rest is held here and the advertised window shrinks by what is held, so
 *   a slow consumer makes the peer stop instead of us buffering. The right
 *   window edge never moves left; it only moves right in steps of at least
 *   min(buffer/2, MSS) (receiver SWS avoidance, RFC 1122 §4.2.3.3).
 * - ACKs for in-order data are sent at the end of the event-loop turn (or at
 *   once after two full segments); out-of-order, duplicate and FIN segments
 *   are ACKed at once (RFC 5681 §4.2, RFC 9293 §3.8.6.3).
 * - One timer per connection (retransmission, persist, SYN-ACK, TIME-WAIT),
 *   cleared when the connection is gone.
 */
import { Duplex } from "node:stream";
import type { IpPort, TcpConnection } from "./api.js";
import { addrToString, buildIp, ipHeaderLen, pseudoSum, PROTO_TCP } from "./ip4.js";
import { NewReno, RtoEstimator, SendBuffer } from "./tcp-send.js";
import { Reassembly } from "./tcp-recv.js";
import {
  ACK, FIN, PSH, RST, SYN,
  seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt,
  tcpHeaderLen, writeTcp,
  type TcpHeaderOut, type TcpSegment,
} from "./tcp-segment.js";

export const enum St {
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
  Closed,
}

export interface TcpTuning {
  /** Receive buffer = maximum advertised window (bytes). */
  rcvBuf: number;
  /** Send buffer bound before the writer is backpressured (bytes). */
  sndBuf: number;
  rtoMin: number;
  rtoMax: number;
  rtoInitial: number;
  /** Consecutive unanswered retransmissions (or window probes) before the connection is aborted. */
  maxRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is forgotten. */
  synRetries: number;
  /** TIME-WAIT duration (ms). */
  timeWait: number;
}

/** What a connection needs from its stack. */
export interface ConnHost {
  mtu: number;
  tuning: TcpTuning;
  send(pkt: Buffer): void;
  /** Flushes the connection at the end of this event-loop turn. */
  schedule(conn: TcpConn): void;
  /** The connection left the table (CLOSED). */
  remove(conn: TcpConn): void;
  /** Passive open completed. */
  established(conn: TcpConn): void;
}

const TIMER_NONE = 0;
const TIMER_RTX = 1;
const TIMER_PERSIST = 2;
const TIMER_TIMEWAIT = 3;

function errWithCode(msg: string, code: string): Error {
  return Object.assign(new Error(msg), { code });
}

export class TcpConn extends Duplex implements TcpConnection {
  readonly localEndpoint: IpPort;
  readonly remoteEndpoint: IpPort;
  state: St;

  // --- addressing ---
  private readonly v6: boolean;
  private readonly localAddr: Buffer;
  private readonly remoteAddr: Buffer;
  private readonly localPort: number;
  private readonly remotePort: number;
  /** pseudoSum without the length: both directions share it (addition commutes). */
  private readonly pseudoBase: number;

  // --- send sequence space ---
  private iss: number;
  private sndUna: number;
  private sndNxt: number;
  /** Highest sequence sent + 1 (SND.NXT can fall back below it after a timeout). */
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private maxSndWnd = 0;
  private sndShift = 0;
  private mss: number;
  private readonly sendBuf = new SendBuffer();
  private finQueued = false;
  /** Sequence number the FIN occupies (valid when finQueued). */
  private finSeq = 0;
  private writeCb: ((err?: Error | null) => void) | null = null;
  private finalCb: ((err?: Error | null) => void) | null = null;
  private cc: NewReno;
  private rtt: RtoEstimator;
  private rttSeq = 0;
  private rttTime = -1;
  private retries = 0;
  private probes = 0;
  private probeAnswered = true;
  /** Persist-timer backoff exponent (RFC 9293 §3.8.6.1: probe intervals grow exponentially). */
  private persistShift = 0;
  private lastSendTime = 0;

  // --- receive sequence space ---
  private irs = 0;
  private rcvNxt = 0;
  private rcvShift = 0;
  /** RCV.NXT + window as last advertised. */
  private rcvAdvEdge = 0;
  private ooo: Reassembly | null = null;
  /** FIN sequence number seen (maybe out of order), or -1. */
  private finRcvSeq = -1;
  private finRcvd = false;
  private eofPushed = false;
  /** In-order bytes the readable side has not accepted yet. */
  private pending: Buffer[] = [];
  private pendingHead = 0;
  private pendingBytes = 0;
  private readWanted = false;
  private ackPending = false;
  private unackedSegs = 0;

  // --- timer ---
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private timerKind = TIMER_NONE;
  private deadline = 0;

  /** Loss-recovery counters (tests, debugging). */
  readonly counters = { timeouts: 0, fastRetransmits: 0, partialAcks: 0, probes: 0 };

  /** Table key (set by the stack). */
  key = "";

  private constructor(
    private readonly host: ConnHost,
    v6: boolean,
    localAddr: Buffer,
    localPort: number,
    remoteAddr: Buffer,
    remotePort: number,
    iss: number,
  ) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.v6 = v6;
    this.localAddr = Buffer.from(localAddr);
    this.remoteAddr = Buffer.from(remoteAddr);
    this.localPort = localPort;
    this.remotePort = remotePort;
    this.localEndpoint = { address: addrToString(localAddr), port: localPort };
    this.remoteEndpoint = { address: addrToString(remoteAddr), port: remotePort };
    this.pseudoBase = pseudoSum(this.localAddr, this.remoteAddr, PROTO_TCP, 0);
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.mss = v6 ? 1220 : 536; // RFC 9293 §3.7.1 default until the peer's MSS option says otherwise
    this.cc = new NewReno(this.mss);
    const t = host.tuning;
    this.rtt = new RtoEstimator(t.rtoMin, t.rtoMax, t.rtoInitial);
    this.state = St.Closed;
    let sh = 0;
    while (sh < 14 && 0xffff * 2 ** sh < t.rcvBuf) sh++;
    this.rcvShift = sh; // our shift if the peer does window scaling; 0 otherwise
  }

  private get ourMss(): number {
    return this.host.mtu - ipHeaderLen(this.v6) - 20;
  }

  /** Passive open: a SYN arrived for this 4-tuple; answers SYN-ACK. */
  static passive(host: ConnHost, v6: boolean, dst: Buffer, src: Buffer, seg: TcpSegment, iss: number): TcpConn {
    const c = new TcpConn(host, v6, dst, seg.dstPort, src, seg.srcPort, iss);
    c.state = St.SynReceived;
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.applySynOptions(seg);
    c.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = iss;
    c.sendSyn();
    return c;
  }

  /** Active open (tests / loopback): sends SYN; emits 'connect' when established. */
  static active(host: ConnHost, v6: boolean, local: Buffer, localPort: number, remote: Buffer, remotePort: number, iss: number): TcpConn {
    const c = new TcpConn(host, v6, local, localPort, remote, remotePort, iss);
    c.state = St.SynSent;
    c.sendSyn();
    return c;
  }

  private applySynOptions(seg: TcpSegment): void {
    const peerMss = seg.mss ?? (this.v6 ? 1220 : 536);
    this.mss = Math.max(64, Math.min(peerMss, this.ourMss));
    this.cc.setMss(this.mss);
    if (seg.wscale !== undefined) {
      this.sndShift = seg.wscale;
      this.wscaleOk = true;
    } else {
      this.sndShift = 0;
      this.rcvShift = 0; // RFC 7323 §2.2: scaling only if both sides offer it
      this.wscaleOk = false;
    }
  }

  // ====================================================================
  // Output
  // ====================================================================

  private sendSyn(): void {
    const synAck = this.state === St.SynReceived;
    const h: TcpHeaderOut = {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: this.iss,
      ack: synAck ? this.rcvNxt : 0,
      flags: synAck ? SYN | ACK : SYN,
      window: Math.min(this.host.tuning.rcvBuf, 0xffff),
      mss: this.ourMss,
    };
    // In SYN_SENT we always offer window scaling; in SYN_RECEIVED only if the peer did (RFC 7323 §1.3).
    if (!synAck || this.wscaleOk) h.wscale = this.rcvShift;
    this.rcvAdvEdge = seqAdd(this.rcvNxt, h.window);
    this.emitSegment(h, 0, 0);
    if (seqLe(this.sndMax, this.iss)) this.sndMax = seqAdd(this.iss, 1);
    this.sndNxt = seqAdd(this.iss, 1);
    if (this.rttTime < 0 && this.retries === 0) {
      this.rttTime = performance.now();
      this.rttSeq = this.sndNxt;
    }
    this.armTimer(TIMER_RTX, this.rtt.rto);
  }

  /** The peer's SYN carried the window scale option. */
  private wscaleOk = false;

  /** The window field to advertise now (and the new right edge). */
  private windowField(): number {
    const rcvBuf = this.host.tuning.rcvBuf;
    const used = this.pendingBytes + this.readableLength;
    const free = Math.max(0, rcvBuf - used);
    const cur = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    let wnd = cur;
    if (free > cur && free - cur >= Math.min(rcvBuf / 2, this.ourMss)) wnd = free;
    const shift = this.rcvShift;
    let field = Math.min(0xffff, Math.ceil(wnd / 2 ** shift));
    if (wnd > cur) field = Math.min(0xffff, Math.floor(wnd / 2 ** shift)); // rounding down when opening
    if (field * 2 ** shift < cur) field = Math.min(0xffff, Math.ceil(cur / 2 ** shift)); // never shrink
    this.rcvAdvEdge = seqAdd(this.rcvNxt, field * 2 ** shift);
    return field;
  }

  /** Builds and sends one segment; `len` bytes come from the send buffer at `bufOff`. */
  private emitSegment(h: TcpHeaderOut, bufOff: number, len: number): void {
    const hl = tcpHeaderLen(h);
    const ihl = ipHeaderLen(this.v6);
    const pkt = buildIp(this.v6, this.localAddr, this.remoteAddr, PROTO_TCP, hl + len);
    if (len > 0) this.sendBuf.copyOut(bufOff, len, pkt, ihl + hl);
    writeTcp(pkt, ihl, h, len, this.pseudoBase + hl + len);
    if (h.flags & ACK) {
      this.ackPending = false;
      this.unackedSegs = 0;
    }
    this.host.send(pkt);
  }

  /** A segment with our current ACK/window. */
  private header(flags: number, seq: number): TcpHeaderOut {
    return {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack: this.rcvNxt,
      flags: flags | ACK,
      window: this.windowField(),
    };
  }

  /**
   * A bare ACK. Its sequence number is the highest we have sent (SND.NXT in
   * RFC terms; our sndNxt is the transmit pointer, which falls back after a
   * timeout) so the peer, whose RCV.NXT may already be past a segment we
   * are about to retransmit, finds it acceptable.
   */
  private sendAck(): void {
    this.emitSegment(this.header(0, this.sndMax), 0, 0);
  }

  private sendRst(seq: number): void {
    this.emitSegment({ srcPort: this.localPort, dstPort: this.remotePort, seq, ack: 0, flags: RST, window: 0 }, 0, 0);
  }

  /** Sequence number just past the last buffered data byte. */
  private get dataEnd(): number {
    return seqAdd(this.bufStart, this.sendBuf.length);
  }

  /** Sequence number of the first buffered byte (SND.UNA, past the SYN). */
  private get bufStart(): number {
    return seqGt(this.sndUna, this.iss) ? this.sndUna : seqAdd(this.iss, 1);
  }

  private canSendData(): boolean {
    const s = this.state;
    return s === St.Established || s === St.CloseWait || s === St.FinWait1 || s === St.Closing || s === St.LastAck;
  }

  /** Sends whatever the windows allow, then a pending ACK if nothing carried it. */
  flush(): void {
    if (this.canSendData()) this.trySend();
    if (this.ackPending && this.state !== St.Closed && this.state !== St.SynSent) this.sendAck();
  }

  private trySend(): void {
    const mss = this.mss;
    const now = performance.now();
    // RFC 5681 §4.1: restart window after an idle period longer than the RTO.
    if (this.sndUna === this.sndMax && this.lastSendTime > 0 && now - this.lastSendTime > this.rtt.rto) this.cc.onIdleRestart();
    for (;;) {
      const dataEnd = this.dataEnd;
      const unsent = seqDiff(dataEnd, this.sndNxt);
      // RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment out.
      const limited = !this.cc.inRecovery && this.cc.dupAcks <= 2 ? this.cc.dupAcks * mss : 0;
      const wnd = Math.min(this.sndWnd, this.cc.cwnd + limited);
      const usable = seqDiff(seqAdd(this.sndUna, wnd), this.sndNxt);
      if (unsent > 0) {
        let len = Math.min(unsent, mss, usable);
        if (len <= 0) break;
        // Sender SWS avoidance: a full segment, everything we have, or half the peer's largest window.
        if (len < mss && len < unsent && len < this.maxSndWnd / 2) break;
        const fin = this.finQueued && len === unsent;
        this.sendData(this.sndNxt, len, fin, now);
        continue;
      }
      if (this.finQueued && this.sndNxt === this.finSeq) {
        this.sendData(this.sndNxt, 0, true, now);
      }
      break;
    }
    // Nothing outstanding but something waits for window: persist timer.
    if (this.sndUna === this.sndMax && (seqGt(this.dataEnd, this.sndNxt) || (this.finQueued && this.sndNxt === this.finSeq))) {
      if (this.timerKind !== TIMER_PERSIST) {
        this.probes = 0;
        this.persistShift = 0;
        this.armTimer(TIMER_PERSIST, this.rtt.rto);
      }
    }
  }

  /** Sends [seq, seq+len) from the buffer (+FIN) and advances SND.NXT. */
  private sendData(seq: number, len: number, fin: boolean, now: number): void {
    const flags = (fin ? FIN : 0) | (len > 0 ? PSH : 0);
    this.emitSegment(this.header(flags, seq), seqDiff(seq, this.bufStart), len);
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    const isNew = seqGe(seq, this.sndMax);
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    if (isNew && this.rttTime < 0) {
      this.rttTime = now;
      this.rttSeq = end;
    }
    this.lastSendTime = now;
    if (this.timerKind !== TIMER_RTX) this.armTimer(TIMER_RTX, this.rtt.rto);
  }

  /**
   * Retransmits the first unacknowledged segment (timeout, fast retransmit,
   * partial ACK). Returns the sequence number just past it.
   */
  private retransmitHead(): number {
    this.rttTime = -1; // Karn: no RTT sample while retransmitting
    const una = this.sndUna;
    const dataLeft = seqDiff(this.dataEnd, una);
    let end = una;
    if (dataLeft > 0) {
      const len = Math.min(dataLeft, this.mss);
      const fin = this.finQueued && len === dataLeft && seqGt(this.sndMax, this.finSeq);
      this.emitSegment(this.header((fin ? FIN : 0) | PSH, una), seqDiff(una, this.bufStart), len);
      end = seqAdd(una, len + (fin ? 1 : 0));
    } else if (this.finQueued && una === this.finSeq) {
      this.emitSegment(this.header(FIN, una), 0, 0);
      end = seqAdd(una, 1);
    }
    this.lastSendTime = performance.now();
    return end;
  }

  // ====================================================================
  // Timer
  // ====================================================================

  private armTimer(kind: number, ms: number): void {
    const now = performance.now();
    this.timerKind = kind;
    this.deadline = now + ms;
    if (this.timer && this.timerAt <= this.deadline + 1) return; // fires early enough; re-checks then
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = this.deadline;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(ms)));
  }

  private stopTimer(): void {
    this.timerKind = TIMER_NONE; // the underlying timer, if any, fires once and does nothing
  }

  private clearTimer(): void {
    this.timerKind = TIMER_NONE;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.timerKind === TIMER_NONE) return;
    const now = performance.now();
    if (now + 0.5 < this.deadline) {
      this.timerAt = this.deadline;
      this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(this.deadline - now)));
      return;
    }
    const kind = this.timerKind;
    this.timerKind = TIMER_NONE;
    try {
      if (kind === TIMER_RTX) this.onRetransmitTimeout();
      else if (kind === TIMER_PERSIST) this.onPersistTimeout();
      else if (kind === TIMER_TIMEWAIT) this.finishClose();
    } catch {
      this.abort(null, true);
    }
  };

  private onRetransmitTimeout(): void {
    const st = this.state;
    if (st === St.SynReceived || st === St.SynSent) {
      this.retries++;
      if (this.retries > this.host.tuning.synRetries) {
        if (st === St.SynSent) this.abort(errWithCode("connect ETIMEDOUT", "ETIMEDOUT"), false);
        else this.abort(null, false); // forget the half-open connection silently
        return;
      }
      this.rtt.backoff();
      this.rttTime = -1;
      this.sendSyn();
      return;
    }
    if (this.sndUna === this.sndMax) return; // everything acknowledged
    this.retries++;
    if (this.retries > this.host.tuning.maxRetries) {
      this.abort(errWithCode("TCP retransmission timeout", "ETIMEDOUT"), true);
      return;
    }
    this.counters.timeouts++;
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.cc.onTimeout(flight, this.retries === 1, this.sndMax);
    this.rtt.backoff();
    this.rttTime = -1;
    // Go back to SND.UNA: retransmit the first segment (even into a closed
    // window: the receiver answers with an ACK), the rest follows as ACKs
    // open the (now one-segment) congestion window.
    this.sndNxt = this.retransmitHead();
    this.armTimer(TIMER_RTX, this.rtt.rto);
  }

  private onPersistTimeout(): void {
    if (!this.canSendData()) return;
    if (!this.probeAnswered) {
      this.probes++;
      if (this.probes > this.host.tuning.maxRetries) {
        this.abort(errWithCode("TCP persist timeout", "ETIMEDOUT"), true);
        return;
      }
    } else {
      this.probes = 0;
    }
    const unsent = seqDiff(this.dataEnd, this.sndNxt);
    const usable = seqDiff(seqAdd(this.sndUna, Math.min(this.sndWnd, this.cc.cwnd)), this.sndNxt);
    const now = performance.now();
    if (usable > 0 && unsent > 0) {
      // SWS override: send what fits.
      const len = Math.min(unsent, usable, this.mss);
      this.sendData(this.sndNxt, len, this.finQueued && len === unsent, now);
      return;
    }
    if (usable > 0 && this.finQueued && this.sndNxt === this.finSeq) {
      this.sendData(this.sndNxt, 0, true, now);
      return;
    }
    // Zero window: probe with an already-acknowledged sequence number, which
    // any receiver must answer with an ACK carrying its window (RFC 9293 §3.8.6.1, §3.10.7.4).
    this.probeAnswered = false;
    this.counters.probes++;
    this.emitSegment(this.header(0, seqAdd(this.sndUna, -1)), 0, 0);
    this.persistShift = Math.min(this.persistShift + 1, 16);
    const backoff = Math.min(this.rtt.rto * 2 ** this.persistShift, this.host.tuning.rtoMax);
    this.armTimer(TIMER_PERSIST, backoff);
  }

  // ====================================================================
  // Input (RFC 9293 §3.10.7)
  // ====================================================================

  segmentArrives(seg: TcpSegment): void {
    switch (this.state) {
      case St.Closed:
        return;
      case St.SynSent:
        this.synSentArrives(seg);
        return;
      default:
        this.syncArrives(seg);
    }
  }

  private synSentArrives(seg: TcpSegment): void {
    const f = seg.flags;
    if (f & ACK) {
      if (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax)) {
        if (!(f & RST)) this.sendRst(seg.ack);
        return;
      }
    }
    if (f & RST) {
      if (f & ACK) this.abort(errWithCode("connect ECONNREFUSED", "ECONNREFUSED"), false);
      return;
    }
    if (!(f & SYN) || !(f & ACK)) return; // simultaneous open is not supported
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.applySynOptions(seg);
    this.sndUna = seg.ack;
    this.sampleRtt(seg.ack);
    this.retries = 0;
    this.sndWnd = seg.window;
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.rcvAdvEdge = this.rcvNxt;
    this.stopTimer();
    this.state = St.Established;
    if (this.finQueued) this.state = St.FinWait1;
    this.sendAck();
    this.emit("connect");
    this.trySend();
  }

  private rcvWindow(): number {
    return Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
  }

  private syncArrives(seg: TcpSegment): void {
    const f = seg.flags;
    let payload = seg.payload;
    let fin = (f & FIN) !== 0;
    let seq = seg.seq;

    // SYN_RECEIVED: a retransmitted SYN means our SYN-ACK was lost.
    if (this.state === St.SynReceived && f & SYN && !(f & ACK) && seq === this.irs) {
      if (!(f & RST)) this.sendSyn();
      return;
    }
    if (this.state === St.TimeWait && fin && !(f & RST) && seqAdd(seq, payload.length + 1) === this.rcvNxt) {
      // Retransmitted FIN: ACK it again and restart the 2MSL wait.
      this.sendAck();
      this.armTimer(TIMER_TIMEWAIT, this.host.tuning.timeWait);
      return;
    }

    // First: sequence number acceptability.
    const segLen = payload.length + (f & SYN ? 1 : 0) + (fin ? 1 : 0);
    const wnd = this.rcvWindow();
    let acceptable: boolean;
    if (segLen === 0) acceptable = wnd === 0 ? seq === this.rcvNxt : seqGe(seq, this.rcvNxt) && seqLt(seq, seqAdd(this.rcvNxt, wnd));
    else if (wnd === 0) acceptable = false;
    else {
      const last = seqAdd(seq, segLen - 1);
      const edge = seqAdd(this.rcvNxt, wnd);
      acceptable = (seqGe(seq, this.rcvNxt) && seqLt(seq, edge)) || (seqGe(last, this.rcvNxt) && seqLt(last, edge));
    }
    let zeroWindowProbe = false;
    if (!acceptable) {
      if (f & RST) return;
      if (wnd === 0 && seq === this.rcvNxt && f & ACK) {
        // Zero window: still process the ACK field, drop the text, answer (RFC 9293 §3.10.7.4).
        zeroWindowProbe = true;
        payload = payload.subarray(0, 0);
        fin = false;
      } else {
        this.sendAck();
        return;
      }
    }

    // Second: RST (RFC 5961 §3.2: exact match resets, otherwise a challenge ACK).
    if (f & RST) {
      if (seq !== this.rcvNxt) {
        this.sendAck();
        return;
      }
      if (this.state === St.SynReceived) this.abort(null, false);
      else if (this.state === St.Closing || this.state === St.LastAck || this.state === St.TimeWait) this.abort(null, false);
      else this.abort(errWithCode("read ECONNRESET", "ECONNRESET"), false);
      return;
    }

    // Fourth: SYN in a synchronized state — challenge ACK (RFC 5961 §4.2).
    if (f & SYN) {
      this.sendAck();
      return;
    }

    // Fifth: ACK.
    if (!(f & ACK)) return;
    if (this.state === St.SynReceived) {
      if (seqGt(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndMax)) {
        this.sndUna = seg.ack;
        this.sampleRtt(seg.ack);
        this.retries = 0;
        this.sndWnd = seg.window * 2 ** this.sndShift;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = seq;
        this.sndWl2 = seg.ack;
        this.stopTimer();
        this.state = St.Established;
        this.host.established(this);
        if (this.state !== St.Established) return; // destroyed by the handler
      } else {
        this.sendRst(seg.ack);
        return;
      }
    } else if (!this.processAck(seg, seq, payload.length > 0 || fin)) {
      return;
    }
    if (this.state === St.Closed) return;
    this.probeAnswered = true;

    // Seventh: segment text (trimmed to the window).
    let needAckNow = zeroWindowProbe;
    if (seqLt(seq, this.rcvNxt)) {
      const cut = seqDiff(this.rcvNxt, seq);
      if (cut >= payload.length) {
        if (payload.length > 0) needAckNow = true; // pure duplicate
        if (fin && cut > payload.length) fin = false;
        payload = payload.subarray(payload.length);
      } else payload = payload.subarray(cut);
      seq = this.rcvNxt;
    }
    const room = seqDiff(this.rcvAdvEdge, seq);
    if (payload.length > room) {
      payload = payload.subarray(0, Math.max(0, room));
      fin = false;
    }
    const receiving = this.state === St.Established || this.state === St.FinWait1 || this.state === St.FinWait2;
    if (receiving && payload.length > 0) {
      if (seq === this.rcvNxt) {
        this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
        this.deliver(Buffer.from(payload));
        if (this.ooo && this.ooo.size > 0) {
          const r = this.ooo.take(this.rcvNxt);
          this.rcvNxt = r.rcvNxt;
          for (const c of r.chunks) this.deliver(c);
          needAckNow = true; // filled a hole: ACK at once (RFC 5681 §4.2)
        }
        this.unackedSegs++;
        if (this.unackedSegs >= 2) needAckNow = true;
      } else {
        (this.ooo ??= new Reassembly()).insert(this.rcvNxt, seq, payload);
        needAckNow = true; // out of order: immediate duplicate ACK
      }
    }
    // Eighth: FIN.
    if (fin && receiving) this.finRcvSeq = seqAdd(seq, payload.length);
    if (this.finRcvSeq >= 0 && !this.finRcvd && this.rcvNxt === this.finRcvSeq >>> 0) {
      this.finRcvd = true;
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.ooo?.clear();
      needAckNow = true;
      if (this.state === St.Established) this.state = St.CloseWait;
      else if (this.state === St.FinWait1) this.state = St.Closing;
      else if (this.state === St.FinWait2) this.enterTimeWait();
      this.drainPending();
    }
    if (payload.length > 0 || needAckNow) {
      if (needAckNow) {
        this.ackPending = true;
        if (this.canSendData()) this.trySend(); // may carry the ACK
        if (this.ackPending && (this.state as St) !== St.Closed) this.sendAck();
      } else {
        this.ackPending = true;
        this.host.schedule(this);
      }
    }
  }

  /**
   * ACK processing in synchronized states. Returns false if the segment
   * must be dropped.
   */
  private processAck(seg: TcpSegment, seq: number, carriesData: boolean): boolean {
    const ack = seg.ack;
    if (seqGt(ack, this.sndMax)) {
      this.sendAck(); // acks something not yet sent
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      this.sendAck(); // RFC 5961 §5.2: too old
      return false;
    }
    const newWnd = seg.window * 2 ** this.sndShift;
    // A live receiver advertising a zero window is not a dead one (RFC 1122 §4.2.2.17).
    if (newWnd === 0) this.retries = 0;
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (seqGt(ack, this.sndUna)) {
      let acked = seqDiff(ack, this.sndUna);
      const dataAcked = Math.min(acked, seqDiff(this.dataEnd, this.bufStart));
      this.sendBuf.consume(Math.max(0, dataAcked));
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      this.sampleRtt(ack);
      this.retries = 0;
      const partial = this.cc.onNewAck(acked, ack, flight, seqGe);
      acked = 0;
      if (this.sndUna === this.sndMax) this.stopTimer();
      else this.armTimer(TIMER_RTX, this.rtt.rto); // RFC 6298 §5.3
      if (partial) {
        this.counters.partialAcks++;
        this.retransmitHead();
      }
      this.releaseWriter();
      if (this.finQueued && seqGt(ack, this.finSeq)) this.ourFinAcked();
      if (this.state === St.Closed) return false;
    } else if (
      ack === this.sndUna &&
      !carriesData &&
      newWnd === this.sndWnd &&
      this.sndUna !== this.sndMax
    ) {
      const r = this.cc.onDupAck(ack, flight, this.sndMax, seqGt);
      if (r === "retransmit") {
        this.counters.fastRetransmits++;
        this.retransmitHead();
        this.armTimer(TIMER_RTX, this.rtt.rto);
      }
    }
    // Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2 rule).
    if (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = newWnd;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (newWnd > this.maxSndWnd) this.maxSndWnd = newWnd;
    }
    if (this.canSendData()) this.trySend();
    if (this.timerKind === TIMER_PERSIST && (this.sndUna !== this.sndMax || !this.hasUnsent())) this.stopTimer();
    return true;
  }

  private hasUnsent(): boolean {
    return seqGt(this.dataEnd, this.sndNxt) || (this.finQueued && seqLe(this.sndNxt, this.finSeq));
  }

  private sampleRtt(ack: number): void {
    if (this.rttTime >= 0 && seqGe(ack, this.rttSeq)) {
      this.rtt.sample(performance.now() - this.rttTime);
      this.rttTime = -1;
    }
  }

  private ourFinAcked(): void {
    const cb = this.finalCb;
    this.finalCb = null;
    switch (this.state) {
      case St.FinWait1:
        this.state = St.FinWait2;
        break;
      case St.Closing:
        this.enterTimeWait();
        break;
      case St.LastAck:
        this.finishClose();
        break;
    }
    cb?.();
  }

  private enterTimeWait(): void {
    this.state = St.TimeWait;
    this.sendBuf.clear();
    this.armTimer(TIMER_TIMEWAIT, this.host.tuning.timeWait);
  }

  // ====================================================================
  // Readable side
  // ====================================================================

  private deliver(chunk: Buffer): void {
    if (this.readWanted && this.pendingBytes === 0 && !this.destroyed) {
      this.readWanted = this.push(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  private drainPending(): void {
    while (this.readWanted && this.pendingHead < this.pending.length) {
      const c = this.pending[this.pendingHead]!;
      this.pending[this.pendingHead++] = EMPTY;
      this.pendingBytes -= c.length;
      this.readWanted = this.push(c);
    }
    if (this.pendingHead === this.pending.length && this.pendingHead > 0) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    if (this.finRcvd && this.pendingBytes === 0 && !this.eofPushed) {
      this.eofPushed = true;
      this.push(null);
    }
  }

  override _read(): void {
    this.readWanted = true;
    this.drainPending();
    // Window update if the window can move right by a worthwhile amount.
    if (this.state === St.Established || this.state === St.FinWait1 || this.state === St.FinWait2) {
      const rcvBuf = this.host.tuning.rcvBuf;
      const free = rcvBuf - this.pendingBytes - this.readableLength;
      const cur = this.rcvWindow();
      if (free - cur >= Math.min(rcvBuf / 2, this.ourMss) && !this.ackPending) {
        this.ackPending = true;
        this.host.schedule(this);
      }
    }
  }

  // ====================================================================
  // Writable side
  // ====================================================================

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.enqueue(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    if (chunks.length === 1) this.enqueue(chunks[0]!.chunk, cb);
    else this.enqueue(Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  private enqueue(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const s = this.state;
    if (!(s === St.SynSent || s === St.Established || s === St.CloseWait)) {
      cb(errWithCode("write after the connection closed", "EPIPE"));
      return;
    }
    this.sendBuf.push(chunk);
    if (this.sendBuf.length <= this.host.tuning.sndBuf) cb();
    else this.writeCb = cb;
    this.host.schedule(this);
  }

  private releaseWriter(): void {
    if (this.writeCb && this.sendBuf.length <= this.host.tuning.sndBuf) {
      const cb = this.writeCb;
      this.writeCb = null;
      cb();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    const s = this.state;
    if (s !== St.Established && s !== St.CloseWait && s !== St.SynSent) {
      cb(s === St.Closed ? errWithCode("connection closed", "EPIPE") : null);
      return;
    }
    this.finQueued = true;
    this.finSeq = this.dataEnd;
    this.finalCb = cb;
    if (s === St.Established) this.state = St.FinWait1;
    else if (s === St.CloseWait) this.state = St.LastAck;
    this.host.schedule(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.state === St.TimeWait) {
      // Keep answering retransmitted FINs until the timer ends; only buffers go.
      this.releaseBuffers();
    } else if (this.state !== St.Closed) {
      // An abortive close (RFC 9293 §3.10.5 ABORT): RST, forget everything.
      if (this.state !== St.SynSent && this.state !== St.SynReceived) this.sendRst(this.sndMax);
      this.finishClose();
    }
    cb(err);
  }

  // ====================================================================
  // Teardown
  // ====================================================================

  /** Ends the connection now. `err` is surfaced on the stream; `rst` sends a reset to the peer. */
  abort(err: Error | null, rst: boolean): void {
    if (this.state === St.Closed) return;
    if (rst && this.state !== St.SynSent) this.sendRst(this.sndMax);
    this.finishClose();
    if (!this.destroyed) this.destroy(err ?? undefined);
  }

  /** CLOSED: timers off, buffers dropped, out of the table. Stream callbacks pending are released. */
  private finishClose(): void {
    if (this.state === St.Closed) return;
    this.state = St.Closed;
    this.clearTimer();
    this.releaseBuffers();
    this.host.remove(this);
    const wcb = this.writeCb;
    this.writeCb = null;
    const fcb = this.finalCb;
    this.finalCb = null;
    if (wcb) wcb(errWithCode("connection closed", "EPIPE"));
    if (fcb) fcb();
  }

  private releaseBuffers(): void {
    this.sendBuf.clear();
    this.ooo?.clear();
    this.ooo = null;
    this.pending = [];
    this.pendingHead = 0;
    this.pendingBytes = 0;
  }

  /** For tests/metrics: bytes held by this connection outside the stream buffers. */
  get bufferedBytes(): number {
    return this.sendBuf.length + this.pendingBytes + (this.ooo?.bytes ?? 0);
  }

  /** For tests: the window we would advertise now. */
  get advertisedWindow(): number {
    return this.rcvWindow();
  }

  /** For tests: the peer's current send window. */
  get peerWindow(): number {
    return this.sndWnd;
  }
}

const EMPTY = Buffer.alloc(0);
