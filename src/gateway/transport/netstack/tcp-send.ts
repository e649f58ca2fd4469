/**
 * Send side building blocks: the byte queue holding unacknowledged and
 * unsent data, the retransmission-timeout estimator (RFC 6298) and
 * congestion control (RFC 5681 slow start / congestion avoidance / fast
 * retransmit, with NewReno fast recovery per RFC 6582).
 */

/** A FIFO of bytes stored as the chunks the writer gave us (no copying on write). */
export class SendBuffer {
  private chunks: Buffer[] = [];
  private head = 0; // index of the first live chunk
  private headOff = 0; // bytes of chunks[head] already consumed
  /** Bytes held. */
  length = 0;
  // Read cursor cache for sequential copyOut calls.
  private curOffset = -1;
  private curIndex = 0;
  private curInner = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Drops `n` bytes from the front (they were acknowledged). */
  consume(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const left = c.length - this.headOff;
      if (n < left) {
        this.headOff += n;
        break;
      }
      n -= left;
      this.chunks[this.head] = EMPTY;
      this.head++;
      this.headOff = 0;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    if (this.length === 0) {
      this.chunks = [];
      this.head = 0;
      this.headOff = 0;
    }
    this.curOffset = -1;
  }

  /** Copies `len` bytes starting `offset` bytes from the front into dest[destOff]. */
  copyOut(offset: number, len: number, dest: Buffer, destOff: number): void {
    let idx: number;
    let inner: number;
    if (offset === this.curOffset) {
      idx = this.curIndex;
      inner = this.curInner;
    } else {
      idx = this.head;
      inner = this.headOff + offset;
      while (idx < this.chunks.length && inner >= this.chunks[idx]!.length) {
        inner -= this.chunks[idx]!.length;
        idx++;
      }
    }
    let left = len;
    while (left > 0) {
      const c = this.chunks[idx]!;
      const n = Math.min(left, c.length - inner);
      c.copy(dest, destOff, inner, inner + n);
      destOff += n;
      left -= n;
      inner += n;
      if (inner === c.length) {
        idx++;
        inner = 0;
      }
    }
    this.curOffset = offset + len;
    this.curIndex = idx;
    this.curInner = inner;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.headOff = 0;
    this.length = 0;
    this.curOffset = -1;
  }
}

const EMPTY = Buffer.alloc(0);

/** RFC 6298 retransmission timer state. Times in milliseconds. */
export class RtoEstimator {
  srtt = 0;
  rttvar = 0;
  /** Current RTO including backoff. */
  rto: number;
  private hasSample = false;

  constructor(
    private readonly minRto: number,
    private readonly maxRto: number,
    initial = 1000,
  ) {
    this.rto = Math.min(Math.max(initial, minRto), maxRto);
  }

  /** Feeds one RTT measurement (never from a retransmitted segment: Karn). */
  sample(r: number): void {
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // G (clock granularity) = 1 ms.
    this.rto = Math.min(Math.max(this.srtt + Math.max(1, 4 * this.rttvar), this.minRto), this.maxRto);
  }

  /** RFC 6298 §5.5: back off the timer after an expiry. */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.maxRto);
  }
}

/**
 * Congestion window bookkeeping (RFC 5681 + RFC 6582). The connection tells
 * it about ACKs and timeouts and asks it what to retransmit; it never sends
 * anything itself.
 */
export class NewReno {
  cwnd: number;
  ssthresh = 0x7fffffff;
  dupAcks = 0;
  inRecovery = false;
  /** RFC 6582 "recover": highest sequence sent when recovery began. */
  recover = 0;
  private recoverValid = false;

  constructor(private mss: number) {
    // RFC 6928 initial window of 10 segments (capped at 14600 bytes as there).
    this.cwnd = Math.min(10 * mss, Math.max(2 * mss, 14600));
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.min(10 * mss, Math.max(2 * mss, 14600));
  }

  /** New data acknowledged. Returns true if this was a partial ACK in recovery (retransmit the next hole). */
  onNewAck(acked: number, ack: number, flight: number, seqGe: (a: number, b: number) => boolean): boolean {
    this.dupAcks = 0;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // Full acknowledgment: deflate (RFC 6582 §3.2 step 3, option 1 with the "flight" guard).
        this.cwnd = Math.min(this.ssthresh, Math.max(flight, this.mss) + this.mss);
        this.inRecovery = false;
        return false;
      }
      // Partial acknowledgment: deflate by the amount acked, add back one SMSS.
      this.cwnd = Math.max(this.cwnd - acked, 0) + (acked >= this.mss ? this.mss : 0);
      if (this.cwnd < this.mss) this.cwnd = this.mss;
      return true;
    }
    if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, this.mss); // slow start
    else this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd)); // congestion avoidance
    return false;
  }

  /**
   * A duplicate ACK (RFC 5681 §2 definition). Returns "retransmit" when
   * fast retransmit should fire, "inflate" when in recovery (cwnd grew:
   * maybe send new data), or null.
   */
  onDupAck(ack: number, flight: number, sndMax: number, seqGt: (a: number, b: number) => boolean): "retransmit" | "inflate" | null {
    this.dupAcks++;
    if (this.inRecovery) {
      this.cwnd += this.mss;
      return "inflate";
    }
    if (this.dupAcks === 3) {
      // RFC 6582 §3.2 step 1/2: only if the ACK covers more than "recover".
      if (this.recoverValid && !seqGt(ack - 1, this.recover)) return null;
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
      this.cwnd = this.ssthresh + 3 * this.mss;
      this.recover = sndMax;
      this.recoverValid = true;
      this.inRecovery = true;
      return "retransmit";
    }
    return null;
  }

  /** Retransmission timeout (RFC 5681 §3.1 eq. 4, only on the first expiry for a segment). */
  onTimeout(flight: number, firstExpiry: boolean, sndMax: number): void {
    if (firstExpiry) this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.dupAcks = 0;
    this.inRecovery = false;
    this.recover = sndMax; // RFC 6582 §3.2 step 4 / §4.1
    this.recoverValid = true;
  }

  /** RFC 5681 §4.1: restart after idle (longer than an RTO) — cwnd back to the initial window. */
  onIdleRestart(): void {
    this.cwnd = Math.min(this.cwnd, Math.min(10 * this.mss, Math.max(2 * this.mss, 14600)));
  }
}
