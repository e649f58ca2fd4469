/**
 * Request bodies: read up to the inspection limit before the decision,
 * without ever losing a byte of what comes after it (an allowed request is
 * forwarded whole), and bounded samples for the audit log.
 */
import type { Readable, Writable } from "node:stream";
import type { SecretRedaction } from "./ports.js";
import { trimPatternPrefix } from "./scrub.js";

/** What was read of a request body before the decision. */
export interface CollectedBody {
  /** Bytes read so far, in order; the last chunk may cross the limit. Forward these first. */
  chunks: Buffer[];
  /** Total bytes in `chunks`. */
  size: number;
  /** The body ended within the limit: `chunks` is all of it. */
  complete: boolean;
  /** The body stream failed or the agent went away before it ended. */
  aborted: boolean;
}

/**
 * Reads `body` until it ends or more than `limit` bytes arrived, then pauses
 * it with the rest unread (a body of exactly `limit` bytes is complete, not
 * truncated). Never rejects.
 */
export function collectBody(body: Readable, limit: number): Promise<CollectedBody> {
  return new Promise((resolve) => {
    const out: CollectedBody = { chunks: [], size: 0, complete: false, aborted: false };
    const done = () => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("aborted", onError);
      resolve(out);
    };
    const onData = (chunk: Buffer) => {
      out.chunks.push(chunk);
      out.size += chunk.length;
      if (out.size > limit) {
        body.pause();
        done();
      }
    };
    const onEnd = () => {
      out.complete = true;
      done();
    };
    const onError = () => {
      out.aborted = true;
      done();
    };
    if (body.readableEnded) {
      out.complete = true;
      resolve(out);
      return;
    }
    body.on("data", onData);
    body.once("end", onEnd);
    body.once("error", onError);
    body.once("aborted", onError);
  });
}

/** The first `limit` bytes of a collected body: what the rules see. */
export function inspectedPrefix(body: CollectedBody, limit: number): Buffer {
  const all = body.chunks.length === 1 ? body.chunks[0]! : Buffer.concat(body.chunks);
  return all.length > limit ? all.subarray(0, limit) : all;
}

/**
 * Sends a collected body and whatever is still unread of `rest` to `sink`,
 * byte for byte, ending `sink` afterwards. `count` sees every chunk (for
 * `bytes_in`). Errors on `rest` are the caller's to handle.
 */
export function forwardBody(body: CollectedBody, rest: Readable, sink: Writable, count: (n: number) => void): void {
  for (const c of body.chunks) {
    count(c.length);
    sink.write(c);
  }
  if (body.complete || body.aborted) {
    sink.end();
    return;
  }
  rest.on("data", (c: Buffer) => count(c.length));
  rest.pipe(sink);
  rest.resume();
}

/** Keeps the first `limit` bytes of a stream for the audit, counting the rest. */
export class BodySample {
  readonly #parts: Buffer[] = [];
  #kept = 0;
  /** Every byte seen, kept or not. */
  total = 0;

  constructor(readonly limit: number) {}

  add(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.#kept >= this.limit) return;
    const take = Math.min(chunk.length, this.limit - this.#kept);
    this.#parts.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    this.#kept += take;
  }

  get truncated(): boolean {
    return this.total > this.#kept;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A sample ready for the audit (`SampledBody`): secrets scrubbed before the
 * cut (so a secret straddling the limit is still found whole); when the
 * sample is cut, a trailing partial secret goes too; text when it is UTF-8
 * (a multi-byte character split by the cut is dropped), bytes otherwise.
 * `cut` says the source was already longer than `bytes`.
 */
export function auditBody(bytes: Buffer, limit: number, r: SecretRedaction, cut = false): { body: string | Uint8Array; truncated: boolean } | null {
  if (bytes.length === 0 || limit <= 0) return null;
  let buf = r.empty ? bytes : r.redactBytes(bytes);
  let truncated = cut;
  if (buf.length > limit) {
    buf = buf.subarray(0, limit);
    truncated = true;
  }
  if (truncated) buf = trimPatternPrefix(buf, r.patterns);
  const maxDrop = truncated ? 3 : 0;
  for (let drop = 0; drop <= maxDrop && drop <= buf.length; drop++) {
    try {
      return { body: fatalUtf8.decode(buf.subarray(0, buf.length - drop)), truncated };
    } catch {
      // a cut may have split a character: try a shorter prefix
    }
  }
  return { body: new Uint8Array(buf), truncated };
}
