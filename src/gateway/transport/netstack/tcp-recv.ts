/**
 * Receive side: out-of-order reassembly (RFC 9293 §3.10.7.4 "seventh,
 * process the segment text"; RFC 1122 §4.2.2.20 — segments beyond RCV.NXT
 * but inside the window are kept and delivered in order).
 *
 * The caller only hands in bytes already trimmed to the receive window, so
 * what is held is bounded by the window; the number of pieces is capped too
 * so a peer sending many tiny disjoint segments cannot blow up the overhead.
 */
import { seqAdd, seqDiff } from "./tcp-segment.js";

interface Piece {
  seq: number;
  data: Buffer;
}

export class Reassembly {
  private pieces: Piece[] = [];
  /** Bytes held out of order. */
  bytes = 0;

  constructor(private readonly maxPieces = 256) {}

  get size(): number {
    return this.pieces.length;
  }

  /**
   * Stores data starting at `seq` (> rcvNxt). Overlaps with held pieces are
   * trimmed (the first copy wins). The data is copied. Returns false if it
   * was dropped because too many pieces are held.
   */
  insert(rcvNxt: number, seq: number, data: Buffer): boolean {
    let a = seqDiff(seq, rcvNxt); // offsets relative to rcvNxt
    const b = a + data.length;
    const base = a;
    const out: Piece[] = [];
    let i = 0;
    const ps = this.pieces;
    // Pieces entirely before the new one.
    while (i < ps.length && seqDiff(ps[i]!.seq, rcvNxt) + ps[i]!.data.length <= a) i++;
    const firstTouched = i;
    for (; i < ps.length && a < b; i++) {
      const ps0 = seqDiff(ps[i]!.seq, rcvNxt);
      const pe = ps0 + ps[i]!.data.length;
      if (ps0 >= b) break;
      if (ps0 > a) out.push({ seq: seqAdd(rcvNxt, a), data: data.subarray(a - base, ps0 - base) });
      a = Math.max(a, pe);
    }
    if (a < b) out.push({ seq: seqAdd(rcvNxt, a), data: data.subarray(a - base, b - base) });
    if (out.length === 0) return true; // entirely duplicate
    if (ps.length + out.length > this.maxPieces) return false;
    // Merge `out` into the sorted list: new pieces interleave with existing ones from firstTouched on.
    const merged = ps.slice(0, firstTouched);
    let j = firstTouched;
    for (const p of out) {
      const off = seqDiff(p.seq, rcvNxt);
      while (j < ps.length && seqDiff(ps[j]!.seq, rcvNxt) < off) merged.push(ps[j++]!);
      const copy = Buffer.from(p.data);
      merged.push({ seq: p.seq, data: copy });
      this.bytes += copy.length;
    }
    while (j < ps.length) merged.push(ps[j++]!);
    this.pieces = merged;
    return true;
  }

  /**
   * Takes the held data that became contiguous with `rcvNxt`, in order.
   * Returns the chunks (possibly empty) and the new RCV.NXT.
   */
  take(rcvNxt: number): { chunks: Buffer[]; rcvNxt: number } {
    const chunks: Buffer[] = [];
    let k = 0;
    const ps = this.pieces;
    while (k < ps.length) {
      const p = ps[k]!;
      const off = seqDiff(p.seq, rcvNxt);
      if (off > 0) break;
      k++;
      this.bytes -= p.data.length;
      if (off + p.data.length > 0) {
        chunks.push(off === 0 ? p.data : p.data.subarray(-off));
        rcvNxt = seqAdd(rcvNxt, off + p.data.length);
      }
    }
    if (k > 0) this.pieces = ps.slice(k);
    return { chunks, rcvNxt };
  }

  /**
   * The held data as SACK blocks (RFC 2018 §4): flat [left, right) pairs of
   * the contiguous runs, at most `max` of them. The first is the run holding
   * `recent` (the segment that triggered this ACK), then the others from the
   * highest down: the runs a sender is most likely still to be missing news of.
   */
  sackBlocks(max: number, recent: number): number[] {
    const runs: number[] = [];
    for (const p of this.pieces) {
      const end = seqAdd(p.seq, p.data.length);
      if (runs.length > 0 && runs[runs.length - 1] === p.seq) runs[runs.length - 1] = end;
      else runs.push(p.seq, end);
    }
    const out: number[] = [];
    let first = -1;
    for (let i = 0; i < runs.length; i += 2) {
      if (seqDiff(recent, runs[i]!) >= 0 && seqDiff(runs[i + 1]!, recent) > 0) first = i;
    }
    if (first >= 0) out.push(runs[first]!, runs[first + 1]!);
    for (let i = runs.length - 2; i >= 0 && out.length < 2 * max; i -= 2) {
      if (i !== first) out.push(runs[i]!, runs[i + 1]!);
    }
    return out;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }
}
