/**
 * Audit inserts on a worker thread with its own SQLite connection.
 *
 * A busy gateway records thousands of actions a second (one per Postgres
 * statement); inserting them on the data-plane thread costs ~10 µs a row and
 * blocks every connection for milliseconds per batch — longer when SQLite
 * checkpoints its WAL. Here the data plane only hands batches over; the
 * worker commits them and answers with the row ids. Rows cross the thread
 * boundary already encoded as flat column tuples (./action-columns.ts): a
 * structured clone of nested facet objects cost more than the insert.
 *
 * `drainSync()` blocks until everything handed over is committed and its
 * callbacks have run (shutdown, and readers that need the rows now): the
 * worker counts finished batches in shared memory, the caller waits on it
 * with `Atomics.wait` and then takes the replies off the port with
 * `receiveMessageOnPort`, so nothing is left to a later event-loop turn.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { NewAction } from "./actions.js";
import { encodeAction, type ActionColumns } from "./action-columns.js";

type Done = (result: { ids: number[] } | { error: Error }) => void;

interface Reply {
  seq: number;
  ids?: number[];
  error?: string;
}

/** How long `drainSync` waits for the worker before giving up on it. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Batches handed over and not yet committed before `submit` waits for the
 * worker (~16k rows at the writer's batch size): past this the worker is
 * not keeping up, and blocking the data plane briefly is the backpressure —
 * the alternative is an audit backlog that grows without bound.
 */
export const MAX_IN_FLIGHT = 64;

export class ThreadedAuditSink {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  /** [0]: batches the worker has finished. */
  readonly #done: Int32Array;
  /** Batches handed over, kept (encoded: light for the GC) until committed, for the fallback. */
  readonly #pending = new Map<number, { rows: readonly ActionColumns[]; done: Done }>();
  #submitted = 0;
  #dead: Error | undefined;
  readonly #fallback: (rows: readonly ActionColumns[]) => number[];

  /**
   * @param stateDir the store's directory (the worker opens the same database)
   * @param fallback in-thread insert of encoded rows (`ActionsRepo.insertEncoded`), used if the worker dies
   */
  constructor(stateDir: string, fallback: (rows: readonly ActionColumns[]) => number[]) {
    this.#fallback = fallback;
    const shared = new SharedArrayBuffer(4);
    this.#done = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#worker = new Worker(new URL("./audit-worker.js", import.meta.url), {
      workerData: { stateDir, shared, port: port2 },
      transferList: [port2],
    });
    this.#worker.unref();
    this.#port.unref();
    this.#port.on("message", (m: Reply) => this.#settle(m));
    this.#worker.on("error", (e) => this.#die(e));
    this.#worker.on("exit", (code) => this.#die(new Error(`audit worker exited (${code})`)));
  }

  /** Hands a batch over; `done` runs with its ids once committed (or with the error). */
  submit(rows: readonly NewAction[], done: Done): void {
    let encoded: ActionColumns[];
    try {
      encoded = rows.map(encodeAction);
    } catch (e) {
      return done({ error: e as Error });
    }
    if (this.#dead) return this.#inThread(encoded, done);
    const seq = ++this.#submitted;
    this.#pending.set(seq, { rows: encoded, done });
    this.#port.postMessage({ seq, rows: encoded });
    if (seq - Atomics.load(this.#done, 0) > MAX_IN_FLIGHT) this.#waitFor(seq - MAX_IN_FLIGHT / 2);
  }

  /** Blocks until the worker has finished batch `seq` (or is declared dead after the drain timeout). */
  #waitFor(seq: number): void {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (!this.#dead && Atomics.load(this.#done, 0) < seq) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#die(new Error("audit worker did not finish in time"));
        break;
      }
      Atomics.wait(this.#done, 0, Atomics.load(this.#done, 0), left);
    }
  }

  /** Blocks until every submitted batch is committed and its callback has run. */
  drainSync(): void {
    this.#waitFor(this.#submitted);
    for (let m = receiveMessageOnPort(this.#port); m; m = receiveMessageOnPort(this.#port)) this.#settle(m.message as Reply);
  }

  /** Drains, then stops the worker. */
  async close(): Promise<void> {
    this.drainSync();
    this.#dead ??= new Error("audit sink closed");
    this.#port.close();
    await this.#worker.terminate();
  }

  #settle(m: Reply): void {
    const p = this.#pending.get(m.seq);
    if (!p) return;
    this.#pending.delete(m.seq);
    p.done(m.ids ? { ids: m.ids } : { error: new Error(m.error ?? "audit insert failed") });
  }

  /** The worker is gone: what it had not acknowledged is written here, on this thread. */
  #die(e: Error): void {
    if (this.#dead) return;
    this.#dead = e;
    for (let m = receiveMessageOnPort(this.#port); m; m = receiveMessageOnPort(this.#port)) this.#settle(m.message as Reply);
    const left = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of left) this.#inThread(p.rows, p.done);
  }

  #inThread(rows: readonly ActionColumns[], done: Done): void {
    try {
      done({ ids: this.#fallback(rows) });
    } catch (e) {
      done({ error: e as Error });
    }
  }
}
