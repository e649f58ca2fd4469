/**
 * Batches audit rows into the store. Each SQLite commit costs ~100 µs here,
 * so writing one row per request in its own transaction makes the audit log
 * the gateway's bottleneck; rows are queued and written together, at most
 * `maxDelayMs` later (or as soon as `maxBatch` are waiting). Live subscribers
 * see each row, with its id, right after it is committed. `flush()` writes
 * what is pending (on shutdown, and in tests that read the log).
 */
import type { NewAction } from "../store/actions.js";

/** Where rows go: written in this thread, and returning their ids... */
export interface AuditSink {
  insertMany(rows: readonly NewAction[]): number[];
}

/**
 * ...or handed to another thread (the store's `ThreadedAuditSink`): ids come
 * back through `done`, and `drainSync` waits until everything handed over
 * is committed and its callbacks have run.
 */
export interface AsyncAuditSink {
  submit(rows: readonly NewAction[], done: (r: { ids: number[] } | { error: Error }) => void): void;
  drainSync(): void;
}

export type ActionListener = (row: NewAction & { id: number }) => void;

export interface AuditWriterOptions {
  maxBatch?: number;
  maxDelayMs?: number;
  onError?: (e: Error, rows: number) => void;
}

export class AuditWriter {
  readonly #sink: AuditSink | AsyncAuditSink;
  readonly #listeners = new Set<ActionListener>();
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #onError: (e: Error, rows: number) => void;
  #queue: NewAction[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(sink: AuditSink | AsyncAuditSink, opts: AuditWriterOptions = {}) {
    this.#sink = sink;
    this.#maxBatch = opts.maxBatch ?? 256;
    this.#maxDelayMs = opts.maxDelayMs ?? 25;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Queues a row (never throws). */
  record(row: NewAction): void {
    this.#queue.push(row);
    if (this.#queue.length >= this.#maxBatch) this.#send();
    else this.#timer ??= setTimeout(() => this.#send(), this.#maxDelayMs);
  }

  /**
   * Writes every pending row now. With a threaded sink it returns once the
   * rows are committed and subscribers have seen them, like the in-thread one.
   */
  flush(): void {
    this.#send();
    if ("drainSync" in this.#sink) this.#sink.drainSync();
  }

  /** Hands the queue to the sink without waiting (the batching timer's path). */
  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#queue;
    if (rows.length === 0) return;
    this.#queue = [];
    const sink = this.#sink;
    if ("submit" in sink) {
      // Rows are kept for delivery only while someone listens: held until the commit, they would
      // otherwise outlive the young generation and become old-generation garbage.
      const count = rows.length;
      const live = this.#listeners.size > 0 ? rows : undefined;
      sink.submit(rows, (r) => ("ids" in r ? live && this.#deliver(live, r.ids) : this.#onError(r.error, count)));
      return;
    }
    let ids: number[];
    try {
      ids = sink.insertMany(rows);
    } catch (e) {
      this.#onError(e as Error, rows.length);
      return;
    }
    this.#deliver(rows, ids);
  }

  #deliver(rows: readonly NewAction[], ids: readonly number[]): void {
    if (this.#listeners.size === 0) return;
    for (let i = 0; i < rows.length; i++) {
      for (const l of this.#listeners) {
        try {
          l({ ...rows[i]!, id: ids[i]! });
        } catch {
          // A broken live consumer must not affect the audit log.
        }
      }
    }
  }

  /** Live stream of committed rows; returns the unsubscribe function. */
  subscribe(listener: ActionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
