/**
 * Awaitable frame reading over a byte stream, for the startup and
 * authentication phases (strictly request/response on both hops). The
 * session relay, which is streaming, uses {@link FrameReader} directly.
 */
import type { Duplex } from "node:stream";
import { FrameReader, ProtocolError, type Frame } from "./wire.js";

/** Reads frames (or untyped startup packets) from a stream on demand. */
export class MessageStream {
  readonly reader: FrameReader;
  readonly #stream: Duplex;
  #waiter: (() => void) | undefined;
  #ended: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.reader.push(chunk);
    this.#wake();
  };
  readonly #onEnd = () => this.#fail(new ProtocolError("connection closed"));
  readonly #onError = (e: Error) => this.#fail(new ProtocolError(`connection error: ${e.message}`));

  constructor(stream: Duplex, maxFrame: number, reader = new FrameReader(maxFrame)) {
    this.#stream = stream;
    this.reader = reader;
    stream.on("data", this.#onData);
    stream.on("end", this.#onEnd);
    stream.on("close", this.#onEnd);
    stream.on("error", this.#onError);
    stream.resume();
  }

  /** The next typed frame. Rejects on close, error, malformed input or timeout. */
  next(timeoutMs: number): Promise<Frame> {
    return this.#await(() => this.reader.next(), timeoutMs);
  }

  /** The next untyped startup packet body. */
  nextStartup(timeoutMs: number): Promise<Buffer> {
    return this.#await(() => this.reader.nextStartup(), timeoutMs);
  }

  /**
   * Stops reading and returns the bytes read but not consumed, leaving the
   * stream paused for its next owner (TLS, the session relay).
   */
  detach(): Buffer {
    this.#stream.pause();
    this.#stream.off("data", this.#onData);
    this.#stream.off("end", this.#onEnd);
    this.#stream.off("close", this.#onEnd);
    this.#stream.off("error", this.#onError);
    return this.reader.drain();
  }

  async #await<T>(take: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.#ended) throw this.#ended;
      const left = deadline - Date.now();
      if (left <= 0) throw new ProtocolError("timed out waiting for the peer");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  #fail(e: Error): void {
    this.#ended ??= e;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}
