/**
 * Batches audit rows into the store. Each SQLite commit costs ~100 µs here,
 * so writing one row per request in its own transaction makes the audit log
 * the gateway's bottleneck; rows are queued and written together, at most
 * `maxDelayMs` later (or as soon as `maxBatch` are waiting). Live subscribers
 * see each row, with its id, right after it is committed. `flush()` writes
 * what is pending (on shutdown, and in tests that read the log).
 */
import type { NewAction } from "../store/actions.js";

export interface AuditSink {
  insertMany(rows: readonly NewAction[]): number[];
}

export type ActionListener = (row: NewAction & { id: number }) => void;

export interface AuditWriterOptions {
  maxBatch?: number;
  maxDelayMs?: number;
  onError?: (e: Error, rows: number) => void;
}

export class AuditWriter {
  readonly #sink: AuditSink;
  readonly #listeners = new Set<ActionListener>();
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #onError: (e: Error, rows: number) => void;
  #queue: NewAction[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(sink: AuditSink, opts: AuditWriterOptions = {}) {
    this.#sink = sink;
    this.#maxBatch = opts.maxBatch ?? 256;
    this.#maxDelayMs = opts.maxDelayMs ?? 25;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Queues a row (never throws). */
  record(row: NewAction): void {
    this.#queue.push(row);
    if (this.#queue.length >= this.#maxBatch) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#maxDelayMs);
  }

  /** Writes every pending row now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#queue;
    if (rows.length === 0) return;
    this.#queue = [];
    let ids: number[];
    try {
      ids = this.#sink.insertMany(rows);
    } catch (e) {
      this.#onError(e as Error, rows.length);
      return;
    }
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
