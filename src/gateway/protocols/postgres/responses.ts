/**
 * Keeping the agent's view of the protocol in step when the gateway answers
 * some messages itself.
 *
 * A denied statement is never sent upstream, yet the agent must see its
 * ErrorResponse exactly where Postgres would have put it: after the
 * responses to everything it sent earlier (pipelined messages are answered
 * in order), and not at all when an earlier message of the same extended
 * batch already failed upstream (Postgres skips to the Sync after an error,
 * so the later message would never have been looked at).
 *
 * {@link ResponseQueue} tracks, in order, every message forwarded upstream
 * that will be answered and every answer the gateway owes. Upstream frames
 * are fed through {@link ResponseQueue.onUpstream}; when a forwarded
 * message's final response passes, the owed answers queued behind it are
 * released.
 */
import type { TxStatus } from "./wire.js";

/** A forwarded message that upstream will answer, with what ends its answer. */
export interface ForwardedEntry<T> {
  kind: "forwarded";
  /** The frontend message type (`Q`, `P`, `B`, `D`, `E`, `C`, `S`). */
  type: string;
  /** Caller data (the audit entries the answer belongs to). */
  data?: T;
}

/** An answer the gateway owes, built when released (so a ReadyForQuery carries the status of that moment). */
export interface OwedEntry {
  kind: "owed";
  build: (status: TxStatus) => Buffer;
}

type Entry<T> = ForwardedEntry<T> | OwedEntry;

/** Backend message types that end the answer to each frontend message. */
const TERMINALS: Readonly<Record<string, string>> = {
  Q: "Z",
  S: "Z",
  P: "1",
  B: "2",
  D: "Tn",
  E: "CIs",
  C: "3",
};

/** Extended-protocol messages: after an upstream error, Postgres skips them until Sync. */
const EXTENDED = new Set(["P", "B", "D", "E", "C"]);

/**
 * What an upstream frame meant. Callers that care which message the frame
 * answered read {@link ResponseQueue.head} before feeding it.
 */
export interface UpstreamEffect<T> {
  /** Entries skipped because of an error (their answers will never come). */
  skipped: ForwardedEntry<T>[];
  /** Owed answers released, in order, to write after this frame. */
  release: Buffer[];
}

/** The effect of a frame that ended nothing (shared; callers only read it). */
const NO_EFFECT: UpstreamEffect<never> = Object.freeze({ skipped: Object.freeze([]) as never[], release: Object.freeze([]) as never[] });

export class ResponseQueue<T = unknown> {
  readonly #q: Entry<T>[] = [];
  #status: TxStatus;
  /**
   * An extended-protocol error emptied the queue before any Sync was forwarded: upstream now
   * ignores every message until the agent's Sync, so those are not queued (they would never be
   * answered) but collected here and reported as skipped when the Sync's ReadyForQuery passes.
   */
  #skipping: ForwardedEntry<T>[] | undefined;
  /** The Sync that ended such a skip, with what was skipped before it (reported when it is answered). */
  #skipEnd: { sync: ForwardedEntry<T>; skipped: ForwardedEntry<T>[] } | undefined;

  constructor(status: TxStatus) {
    this.#status = status;
  }

  /** The transaction status of the last ReadyForQuery that passed. */
  get status(): TxStatus {
    return this.#status;
  }

  get size(): number {
    return this.#q.length;
  }

  /** The forwarded message at the head, if the head is one. */
  get head(): ForwardedEntry<T> | undefined {
    const h = this.#q[0];
    return h?.kind === "forwarded" ? h : undefined;
  }

  /** Records a forwarded message whose answer upstream will send. */
  forwarded(type: string, data?: T): ForwardedEntry<T> {
    const e: ForwardedEntry<T> = data !== undefined ? { kind: "forwarded", type, data } : { kind: "forwarded", type };
    if (this.#skipping && type !== "S") {
      this.#skipping.push(e);
      return e;
    }
    if (this.#skipping) {
      this.#skipEnd = { sync: e, skipped: this.#skipping };
      this.#skipping = undefined;
    }
    this.#q.push(e);
    return e;
  }

  /**
   * Owes the agent an answer after everything queued so far. Returns the
   * bytes to write now when nothing is pending ahead of it.
   */
  owe(build: OwedEntry["build"]): Buffer[] {
    // Upstream is skipping to Sync: Postgres would not answer this message either.
    if (this.#skipping) return [];
    this.#q.push({ kind: "owed", build });
    return this.#releaseOwed();
  }

  /** Feeds one upstream frame type (after the frame itself was written to the agent). */
  onUpstream(type: string, firstBodyByte: number | undefined): UpstreamEffect<T> {
    if (type === "Z" && firstBodyByte !== undefined) this.#status = String.fromCharCode(firstBodyByte) as TxStatus;
    const head = this.#q[0];
    // Most frames (rows, descriptions) end nothing: no allocation for them.
    if (!head || head.kind !== "forwarded") return NO_EFFECT;
    if (type === "E" && !EXTENDED.has(head.type)) return NO_EFFECT; // a simple query's error: its ReadyForQuery ends it
    const effect: UpstreamEffect<T> = { skipped: [], release: [] };
    if (type === "E") {
      this.#q.shift();
      // Postgres now ignores everything up to the next Sync; so do the owed answers queued there.
      while (this.#q.length > 0) {
        const e = this.#q[0]!;
        if (e.kind === "forwarded" && e.type === "S") break;
        this.#q.shift();
        if (e.kind === "forwarded") effect.skipped.push(e);
      }
      // No Sync forwarded yet: what the agent sends up to it will be ignored upstream.
      if (this.#q.length === 0) this.#skipping = [];
    } else if (TERMINALS[head.type]?.includes(type)) {
      this.#q.shift();
      if (head === this.#skipEnd?.sync) {
        effect.skipped.push(...this.#skipEnd.skipped);
        this.#skipEnd = undefined;
      }
    } else return NO_EFFECT;
    if (this.#q[0]?.kind === "owed") effect.release = this.#releaseOwed();
    return effect;
  }

  #releaseOwed(): Buffer[] {
    const out: Buffer[] = [];
    while (this.#q[0]?.kind === "owed") out.push((this.#q.shift() as OwedEntry).build(this.#status));
    return out;
  }
}
