/**
 * Streaming redaction of a response body that still delivers every byte as
 * soon as it provably cannot be part of a secret.
 *
 * A fixed hold-back (keep the last `longest pattern - 1` bytes of every
 * chunk) is simple but stalls a stream: a 20-byte SSE event followed by a
 * pause would sit in the buffer until the next event or the end. Here only
 * the shortest tail that could still grow into a match is held (for a
 * typical event ending in `\n\n`: nothing), so streaming stays incremental.
 *
 * Correctness argument: at each step the emitted prefix `buf[0, cut)` is
 * chosen so that no occurrence of a pattern starts before `cut` and is
 * incomplete (such a tail would have lowered `cut`), and no complete
 * occurrence straddles `cut` (the cut is moved to its start). Every
 * occurrence therefore lies wholly inside one emitted piece, which the
 * one-shot redaction masks.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { SecretRedaction } from "./ports.js";

/** Start of the shortest tail of `buf` that is a proper prefix of some pattern (`buf.length` when none). */
export function holdFrom(buf: Buffer, patterns: readonly Buffer[], maxLen: number): number {
  const n = buf.length;
  for (let s = Math.max(0, n - maxLen + 1); s < n; s++) {
    const b = buf[s];
    const rest = n - s;
    for (const p of patterns) {
      if (p.length > rest && p[0] === b && buf.compare(p, 0, rest, s, n) === 0) return s;
    }
  }
  return n;
}

/** Moves `cut` back to the start of any complete occurrence that straddles it. */
function settleCut(buf: Buffer, cut: number, patterns: readonly Buffer[]): number {
  let c = cut;
  for (let moved = true; moved; ) {
    moved = false;
    for (const p of patterns) {
      for (let i = buf.indexOf(p, Math.max(0, c - p.length + 1)); i !== -1 && i < c; i = buf.indexOf(p, i + 1)) {
        if (i + p.length > c) {
          c = i;
          moved = true;
          break;
        }
      }
    }
  }
  return c;
}

/** A Transform redacting `r`'s patterns from a byte stream with minimal hold-back. */
export class RedactingStream extends Transform {
  #pending: Buffer = Buffer.alloc(0);
  readonly #r: SecretRedaction;
  readonly #maxLen: number;

  constructor(r: SecretRedaction) {
    super();
    this.#r = r;
    this.#maxLen = r.patterns.reduce((m, p) => Math.max(m, p.length), 0);
  }

  /** Bytes currently held back. */
  get held(): number {
    return this.#pending.length;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#maxLen === 0) {
      cb(null, chunk);
      return;
    }
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const cut = settleCut(buf, holdFrom(buf, this.#r.patterns, this.#maxLen), this.#r.patterns);
    this.#pending = Buffer.from(buf.subarray(cut));
    if (cut > 0) this.push(this.#r.redactBytes(buf.subarray(0, cut)));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.#pending.length > 0) this.push(this.#r.redactBytes(this.#pending));
    this.#pending = Buffer.alloc(0);
    cb();
  }
}
