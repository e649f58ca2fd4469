/**
 * The audit worker thread (see ./audit-thread.ts): its own connection to the
 * state database, committing each batch it is handed (rows encoded by
 * `encodeAction`) in one transaction and answering with the row ids.
 */
import { setPriority } from "node:os";
import { workerData, type MessagePort } from "node:worker_threads";
import { openStore } from "./db.js";
import type { ActionColumns } from "./action-columns.js";

const { stateDir, shared, port } = workerData as { stateDir: string; shared: SharedArrayBuffer; port: MessagePort };
const done = new Int32Array(shared);
const store = openStore(stateDir);
try {
  // Linux applies this to the calling thread only: audit inserts are buffered background work,
  // so under CPU contention the data plane's thread (and the servers it fronts) go first. The
  // sink bounds the backlog (MAX_IN_FLIGHT in ./audit-thread.ts), so a starved worker slows the
  // data plane down rather than letting rows pile up in memory.
  setPriority(10);
} catch {
  /* not permitted or not supported: run at the default priority */
}
// Appending thousands of rows a second touches the table's and indexes' right edges plus the
// WAL index; a 16 MiB page cache (default 2 MiB) keeps them resident: ~1 µs less per row here.
store.db.pragma("cache_size = -16384");

port.on("message", (m: { seq: number; rows: ActionColumns[] }) => {
  let reply: { seq: number; ids?: number[]; error?: string };
  try {
    reply = { seq: m.seq, ids: store.actions.insertEncoded(m.rows) };
  } catch (e) {
    reply = { seq: m.seq, error: (e as Error).message };
  }
  // Reply first, then count: a drainer that sees the count finds the reply queued.
  port.postMessage(reply);
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
});
