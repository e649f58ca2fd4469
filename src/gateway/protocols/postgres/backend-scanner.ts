/**
 * Streaming scan of the upstream's backend messages. The gateway forwards
 * them unchanged and must not buffer a large DataRow to do so; it only
 * needs each message's type (to know when the answer to a forwarded
 * message is complete) and the bodies of a few small ones: ReadyForQuery
 * (transaction status), CommandComplete (the tag: rows affected) and
 * ErrorResponse (the SQLSTATE).
 *
 * {@link BackendScanner.scan} splits a chunk into the byte ranges to pass
 * through, calling back at every message boundary; a callback may return
 * extra bytes to insert right after that message.
 */
import { ProtocolError } from "./wire.js";

/** Backend messages whose bodies are captured (they are small). */
const CAPTURED = new Set(["Z", "C", "E"]);
/** A captured body larger than this is a protocol error (no legitimate one comes close). */
const MAX_CAPTURED = 1024 * 1024;

export type BackendMessageHandler = (type: string, body: Buffer | undefined, firstByte: number | undefined) => Buffer[] | undefined;

export class BackendScanner {
  readonly #header = Buffer.alloc(5);
  #headerLen = 0;
  #type = "";
  #remaining = 0;
  #first: number | undefined;
  #capture: Buffer[] | undefined;

  constructor(private readonly onMessage: BackendMessageHandler) {}

  /** Returns the pieces to write to the agent, in order (the chunk's own bytes plus inserted ones). */
  scan(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - i);
        if (this.#first === undefined) this.#first = chunk[i];
        this.#capture?.push(chunk.subarray(i, i + n));
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) {
          const extra = this.#complete();
          if (extra?.length) {
            out.push(chunk.subarray(start, i), ...extra);
            start = i;
          }
        }
        continue;
      }
      const n = Math.min(5 - this.#headerLen, chunk.length - i);
      chunk.copy(this.#header, this.#headerLen, i, i + n);
      this.#headerLen += n;
      i += n;
      if (this.#headerLen < 5) continue;
      this.#headerLen = 0;
      this.#type = String.fromCharCode(this.#header[0]!);
      const len = this.#header.readInt32BE(1);
      if (len < 4) throw new ProtocolError(`upstream sent an invalid message length ${len}`);
      this.#remaining = len - 4;
      this.#first = undefined;
      this.#capture = CAPTURED.has(this.#type) ? [] : undefined;
      if (this.#capture && this.#remaining > MAX_CAPTURED) throw new ProtocolError(`upstream ${this.#type} message of ${this.#remaining} bytes`);
      if (this.#remaining === 0) {
        const extra = this.#complete();
        if (extra?.length) {
          out.push(chunk.subarray(start, i), ...extra);
          start = i;
        }
      }
    }
    if (start < chunk.length) out.push(start === 0 ? chunk : chunk.subarray(start));
    return out;
  }

  #complete(): Buffer[] | undefined {
    const body = this.#capture ? (this.#capture.length === 1 ? this.#capture[0]! : Buffer.concat(this.#capture)) : undefined;
    this.#capture = undefined;
    return this.onMessage(this.#type, body, this.#first);
  }
}
