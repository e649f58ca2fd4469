/**
 * An action as the flat tuple of values bound to its `INSERT`.
 *
 * The audit log is written on a worker thread (./audit-thread.ts). Handing
 * it nested `NewAction` objects costs a structured clone of every facet
 * object, key by key — measured at ~6 µs a row, more than the SQLite insert
 * itself. Encoding on the data-plane thread (one `JSON.stringify` per JSON
 * column) and passing flat tuples of strings and numbers costs ~1.5 µs, and
 * the worker only binds them.
 *
 * Rows without sampled headers, bodies or a status (every SQL and SSH
 * statement) are encoded *lean*: the five always-null columns are left out
 * and the lean statement binds 18 values instead of 23.
 */
import type { NewAction } from "./actions.js";
import { VERDICTS } from "./actions.js";

/** Columns every row binds, in order. */
const BASE_COLUMNS = [
  "time", "device", "profile", "transport", "endpoint", "family", "host", "credential", "rule", "verdict",
  "reason", "approvals", "facets", "summary", "latency_ms", "bytes_in", "bytes_out", "flags",
] as const;
/** Columns only rows with an upstream response or sampled traffic bind. */
const FULL_EXTRA = ["status", "req_headers", "req_body", "resp_headers", "resp_body"] as const;

/** A lean row's values, in {@link BASE_COLUMNS} order. */
export type LeanColumns = [
  number, string, string, string, string, string, string, string, string, string,
  string, string, string, string, number | null, number, number, string,
];
/** A full row: the lean values followed by {@link FULL_EXTRA}'s. */
export type FullColumns = [
  ...LeanColumns,
  number | null, string | null, string | Uint8Array | null, string | null, string | Uint8Array | null,
];
export type ActionColumns = LeanColumns | FullColumns;

export const LEAN_WIDTH = BASE_COLUMNS.length;
export const FULL_WIDTH = BASE_COLUMNS.length + FULL_EXTRA.length;

function insertSql(columns: readonly string[]): string {
  return `INSERT INTO actions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
}

export const LEAN_INSERT_SQL = insertSql(BASE_COLUMNS);

/**
 * Lean rows are inserted this many to a statement: one multi-row `INSERT`
 * binds the same values with one driver call and one statement step instead
 * of eight (~20% less per row, measured).
 */
export const LEAN_GROUP = 8;
export const LEAN_GROUP_INSERT_SQL = `${LEAN_INSERT_SQL}${`, (${BASE_COLUMNS.map(() => "?").join(", ")})`.repeat(LEAN_GROUP - 1)}`;
export const FULL_INSERT_SQL = insertSql([...BASE_COLUMNS, ...FULL_EXTRA]);

const EMPTY_JSON_ARRAY = "[]";

/**
 * Validates and encodes a row. Throws (like the insert would) on a row the
 * table cannot take, so a bad row fails in its caller, not on the worker.
 */
export function encodeAction(r: NewAction): ActionColumns {
  if (!Number.isFinite(r.time)) throw new TypeError(`action time must be a finite number, got ${String(r.time)}`);
  if (!VERDICTS.includes(r.verdict)) throw new TypeError(`unknown action verdict ${JSON.stringify(r.verdict)}`);
  const lean: LeanColumns = [
    Math.trunc(r.time),
    r.device ?? "",
    r.profile ?? "",
    r.transport ?? "",
    r.endpoint ?? "",
    r.family ?? "",
    r.host ?? "",
    r.credential ?? "",
    r.rule ?? "",
    r.verdict,
    r.reason ?? "",
    r.approvals === undefined || r.approvals.length === 0 ? EMPTY_JSON_ARRAY : toJson(r.approvals),
    r.facetsJson ?? toJson(r.facets ?? {}),
    r.summary ?? "",
    r.latencyMs === undefined || r.latencyMs === null || !Number.isFinite(r.latencyMs) ? null : r.latencyMs,
    count(r.bytesIn),
    count(r.bytesOut),
    r.flags === undefined || r.flags.length === 0 ? EMPTY_JSON_ARRAY : toJson(r.flags),
  ];
  const status = optionalInt(r.status);
  if (status === null && r.reqHeaders == null && r.reqBody == null && r.respHeaders == null && r.respBody == null) return lean;
  return [
    ...lean,
    status,
    r.reqHeaders == null ? null : toJson(r.reqHeaders),
    r.reqBody ?? null,
    r.respHeaders == null ? null : toJson(r.respHeaders),
    r.respBody ?? null,
  ];
}

/**
 * Values as SQLite binds them: a body that crossed a thread boundary
 * arrives as a plain `Uint8Array`, which the driver only binds as a Buffer.
 */
export function bindable(cols: ActionColumns): unknown[] {
  if (cols.length === LEAN_WIDTH) return cols;
  const out: unknown[] = cols.slice();
  for (let i = LEAN_WIDTH; i < out.length; i++) {
    const v = out[i];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) out[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return out;
}

function optionalInt(v: number | null | undefined): number | null {
  return v === undefined || v === null || !Number.isFinite(v) ? null : Math.trunc(v);
}

/** Byte counters: anything not a sane count becomes 0 rather than failing the audit write. */
function count(v: number | undefined): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? Math.trunc(v) : 0;
}

/** JSON that tolerates BigInt (CEL ints) instead of throwing mid-request. */
export function toJson(v: unknown): string {
  // The replacer costs a call per key; only values holding a BigInt (CEL ints) need it.
  try {
    return JSON.stringify(v);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(v, (_k, x: unknown) =>
      typeof x === "bigint" ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x,
    );
  }
}
