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
 *
 * This file holds the connection's state (the TCB) and its stream sides;
 * the protocol work is in sibling modules that operate on that state:
 * ./tcp-input.ts (segment arrival), ./tcp-output.ts (sending segments) and
 * ./tcp-retransmit.ts (loss recovery, timer expiries). Fields those modules
 * use are marked @internal: not for the stack or other importers.
 */
import { Duplex } from "node:stream";
import type { IpPort, TcpConnection } from "./api.js";
import { addrToString, ipHeaderLen, pseudoSum, PROTO_TCP } from "./ip4.js";
import { errWithCode, St, Timer, type ConnHost } from "./tcp-defs.js";
import { segmentArrives } from "./tcp-input.js";
import { sendAck, sendRst, sendSyn, trySend } from "./tcp-output.js";
import type { Reassembly } from "./tcp-recv.js";
import { persistTimeout, retransmitTimeout } from "./tcp-retransmit.js";
import { seqAdd, seqDiff, seqGt, type TcpSegment } from "./tcp-segment.js";
import { NewReno, RtoEstimator, SendBuffer } from "./tcp-send.js";

export { St, type ConnHost, type TcpTuning } from "./tcp-defs.js";

export class TcpConn extends Duplex implements TcpConnection {
  readonly localEndpoint: IpPort;
  readonly remoteEndpoint: IpPort;
  state: St;

  // --- addressing ---
  /** @internal */ readonly v6: boolean;
  /** @internal */ readonly localAddr: Buffer;
  /** @internal */ readonly remoteAddr: Buffer;
  /** @internal */ readonly localPort: number;
  /** @internal */ readonly remotePort: number;
  /** pseudoSum without the length: both directions share it (addition commutes). @internal */
  readonly pseudoBase: number;

  // --- send sequence space ---
  /** @internal */ iss: number;
  /** @internal */ sndUna: number;
  /** @internal */ sndNxt: number;
  /** Highest sequence sent + 1 (SND.NXT can fall back below it after a timeout). @internal */
  sndMax: number;
  /** @internal */ sndWnd = 0;
  /** @internal */ sndWl1 = 0;
  /** @internal */ sndWl2 = 0;
  /** @internal */ maxSndWnd = 0;
  /** @internal */ sndShift = 0;
  /** The peer's SYN carried the window scale option. @internal */
  wscaleOk = false;
  /** Both SYNs carried SACK-permitted: our ACKs report held out-of-order data (RFC 2018). @internal */
  sackOk = false;
  /** Sequence number of the latest out-of-order segment held (the first SACK block holds it). @internal */
  lastOooSeq = 0;
  /** @internal */ mss: number;
  /** @internal */ readonly sendBuf = new SendBuffer();
  /** @internal */ finQueued = false;
  /** Sequence number the FIN occupies (valid when finQueued). @internal */
  finSeq = 0;
  private writeCb: ((err?: Error | null) => void) | null = null;
  /** @internal */ finalCb: ((err?: Error | null) => void) | null = null;
  /** @internal */ cc: NewReno;
  /** @internal */ rtt: RtoEstimator;
  /** @internal */ rttSeq = 0;
  /** @internal */ rttTime = -1;
  /** @internal */ retries = 0;
  /** @internal */ probes = 0;
  /** @internal */ probeAnswered = true;
  /** Persist-timer backoff exponent (RFC 9293 §3.8.6.1: probe intervals grow exponentially). @internal */
  persistShift = 0;
  /** @internal */ lastSendTime = 0;

  // --- receive sequence space ---
  /** @internal */ irs = 0;
  /** @internal */ rcvNxt = 0;
  /** @internal */ rcvShift = 0;
  /** RCV.NXT + window as last advertised. @internal */
  rcvAdvEdge = 0;
  /** @internal */ ooo: Reassembly | null = null;
  /** FIN sequence number seen (maybe out of order), or -1. @internal */
  finRcvSeq = -1;
  /** @internal */ finRcvd = false;
  private eofPushed = false;
  /** In-order bytes the readable side has not accepted yet. */
  private pending: Buffer[] = [];
  private pendingHead = 0;
  /** @internal */ pendingBytes = 0;
  private readWanted = false;
  /** The reader took data: see at the next flush whether a window update is due. */
  private windowCheck = false;
  /** @internal */ ackPending = false;
  /** @internal */ unackedSegs = 0;

  // --- timer ---
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  /** @internal */ timerKind = Timer.None;
  private deadline = 0;

  /** Loss-recovery counters (tests, debugging). */
  readonly counters = { timeouts: 0, fastRetransmits: 0, partialAcks: 0, probes: 0 };

  /** Table key (set by the stack). */
  key = "";

  private constructor(
    /** @internal */ readonly host: ConnHost,
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

  /** @internal */
  get ourMss(): number {
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
    sendSyn(c);
    return c;
  }

  /** Active open (tests / loopback): sends SYN; emits 'connect' when established. */
  static active(host: ConnHost, v6: boolean, local: Buffer, localPort: number, remote: Buffer, remotePort: number, iss: number): TcpConn {
    const c = new TcpConn(host, v6, local, localPort, remote, remotePort, iss);
    c.state = St.SynSent;
    sendSyn(c);
    return c;
  }

  /** @internal */
  applySynOptions(seg: TcpSegment): void {
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
    this.sackOk = seg.sackOk === true;
  }

  // ====================================================================
  // Send and receive space (shared by tcp-input / tcp-output / tcp-retransmit)
  // ====================================================================

  /** Sequence number just past the last buffered data byte. @internal */
  get dataEnd(): number {
    return seqAdd(this.bufStart, this.sendBuf.length);
  }

  /** Sequence number of the first buffered byte (SND.UNA, past the SYN). @internal */
  get bufStart(): number {
    return seqGt(this.sndUna, this.iss) ? this.sndUna : seqAdd(this.iss, 1);
  }

  /** @internal */
  canSendData(): boolean {
    const s = this.state;
    return s === St.Established || s === St.CloseWait || s === St.FinWait1 || s === St.Closing || s === St.LastAck;
  }

  /** @internal */
  rcvWindow(): number {
    return Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
  }

  /** Data can still arrive: the states where segment text is taken and the receive window matters. @internal */
  canReceiveData(): boolean {
    const s = this.state;
    return s === St.Established || s === St.FinWait1 || s === St.FinWait2;
  }

  /** Receive buffer not taken by data the reader has not consumed yet. @internal */
  rcvSpace(): number {
    return Math.max(0, this.host.tuning.rcvBuf - this.pendingBytes - this.readableLength);
  }

  /** How far the window must be able to move right to be worth announcing (receiver SWS avoidance). @internal */
  windowStep(): number {
    return Math.min(this.host.tuning.rcvBuf / 2, this.ourMss);
  }

  /** Sends whatever the windows allow, then a pending ACK if nothing carried it. */
  flush(): void {
    if (this.pendingHead < this.pending.length) this.drainPending();
    if (this.windowCheck) this.checkWindow();
    if (this.canSendData()) trySend(this);
    if (this.ackPending && this.state !== St.Closed && this.state !== St.SynSent) sendAck(this);
  }

  /** A segment for this connection arrived (RFC 9293 §3.10.7; see ./tcp-input.ts). */
  segmentArrives(seg: TcpSegment): void {
    segmentArrives(this, seg);
  }

  // ====================================================================
  // Timer
  // ====================================================================

  /** @internal */
  armTimer(kind: Timer, ms: number): void {
    const now = performance.now();
    this.timerKind = kind;
    this.deadline = now + ms;
    if (this.timer && this.timerAt <= this.deadline + 1) return; // fires early enough; re-checks then
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = this.deadline;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(ms)));
  }

  /** @internal */
  stopTimer(): void {
    this.timerKind = Timer.None; // the underlying timer, if any, fires once and does nothing
  }

  private clearTimer(): void {
    this.timerKind = Timer.None;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.timerKind === Timer.None) return;
    const now = performance.now();
    if (now + 0.5 < this.deadline) {
      this.timerAt = this.deadline;
      this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(this.deadline - now)));
      return;
    }
    const kind = this.timerKind;
    this.timerKind = Timer.None;
    try {
      if (kind === Timer.Rtx) retransmitTimeout(this);
      else if (kind === Timer.Persist) persistTimeout(this);
      else if (kind === Timer.TimeWait) this.finishClose();
    } catch {
      this.abort(null, true);
    }
  };

  // ====================================================================
  // Readable side
  // ====================================================================

  /**
   * In-order data for the reader. It is not pushed at once: segments that
   * arrive in one receive batch (the datagrams one socket wake-up reads) are
   * joined and pushed together when the stack flushes this connection at the
   * end of the batch, so whatever consumes the stream — a relay's socket
   * write — runs once per batch instead of once per ~1.4 KB segment.
   * `chunk` is the connection's own (not a view into a packet).
   * @internal
   */
  deliver(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.readWanted) this.host.schedule(this);
  }

  /** @internal */
  drainPending(): void {
    const pending = this.pending;
    while (this.readWanted && this.pendingHead < pending.length) {
      const start = this.pendingHead;
      let end = start + 1;
      let bytes = pending[start]!.length;
      while (end < pending.length && bytes + pending[end]!.length <= COALESCE_MAX) bytes += pending[end++]!.length;
      const out = end - start === 1 ? pending[start]! : Buffer.concat(pending.slice(start, end), bytes);
      for (let i = start; i < end; i++) pending[i] = EMPTY;
      this.pendingHead = end;
      this.pendingBytes -= bytes;
      this.readWanted = this.push(out);
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
    // The reader made room, or is about to: a chunk just pushed is still counted
    // in readableLength until it is handed out after this call. So whether the
    // window moved enough to announce is decided at the flush, once it has been.
    if (this.canReceiveData() && this.host.tuning.rcvBuf - this.rcvWindow() >= this.windowStep()) {
      this.windowCheck = true;
      this.host.schedule(this);
    }
  }

  /** Window update if the window can move right by a worthwhile amount. */
  private checkWindow(): void {
    this.windowCheck = false;
    if (!this.canReceiveData() || this.ackPending) return;
    if (this.rcvSpace() - this.rcvWindow() >= this.windowStep()) this.ackPending = true;
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

  /** @internal */
  releaseWriter(): void {
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
      if (this.state !== St.SynSent && this.state !== St.SynReceived) sendRst(this, this.sndMax);
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
    if (rst && this.state !== St.SynSent) sendRst(this, this.sndMax);
    this.finishClose();
    if (!this.destroyed) this.destroy(err ?? undefined);
  }

  /** CLOSED: timers off, buffers dropped, out of the table. Stream callbacks pending are released. @internal */
  finishClose(): void {
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

/** Largest push {@link TcpConn.drainPending} joins segments into. */
const COALESCE_MAX = 64 * 1024;
