/**
 * The audit log: one row per action the gateway decided (ARCHITECTURE §2).
 *
 * The store records what it is given. Redaction of injected secrets and
 * sensitive headers, and truncation to `limits.body_storage`, happen in the
 * data plane before a row gets here (ARCHITECTURE §6.1); the store neither
 * knows the secrets nor could tell a redacted body from a raw one.
 */
import type { Database, Statement } from "better-sqlite3";
import {
  bindable,
  encodeAction,
  FULL_INSERT_SQL,
  LEAN_GROUP,
  LEAN_GROUP_INSERT_SQL,
  LEAN_INSERT_SQL,
  LEAN_WIDTH,
  type ActionColumns,
} from "./action-columns.js";

/** What the gateway did with an action. */
export type Verdict = "allow" | "deny" | "approve" | "passthrough" | "error";

export const VERDICTS: readonly Verdict[] = ["allow", "deny", "approve", "passthrough", "error"];

/** One approver's say on an `approve` action; the approvals engine owns the shape beyond these. */
export interface ApproverDecision {
  /** Approver name from the config (`human`, `llm_judge`, ...). */
  approver: string;
  /** `allow`, `deny`, `timeout`, `error`, ... */
  decision: string;
  /** Who decided (operator, model), when known. */
  by?: string;
  reason?: string;
  /** Epoch ms of the decision. */
  at?: number;
  [extra: string]: unknown;
}

/** Sampled headers, multi-valued as on the wire (values already redacted). */
export type SampledHeaders = Record<string, string | string[]>;

/** A sampled body: text when it decoded as UTF-8, bytes otherwise. */
export type SampledBody = string | Uint8Array;

/** Flag names in use; free-form strings are accepted so new ones need no migration. */
export const ActionFlags = {
  reqBodyTruncated: "req_body_truncated",
  respBodyTruncated: "resp_body_truncated",
  facetsUnknown: "facets_unknown",
} as const;

/** An action to record. Only `time` and `verdict` are required; the rest default to empty. */
export interface NewAction {
  /** Epoch milliseconds when the request arrived. */
  time: number;
  device?: string;
  profile?: string;
  /** `proxy`, `forward`, `wireguard`, `tailscale`. */
  transport?: string;
  /** `type.name`, e.g. `https.github`. */
  endpoint?: string;
  /** `http`, `k8s`, `sql`, `ssh`. */
  family?: string;
  host?: string;
  /** Name of the credential injected (never its value). */
  credential?: string;
  /** Name of the rule that decided, "" for defaults. */
  rule?: string;
  verdict: Verdict;
  reason?: string;
  approvals?: readonly ApproverDecision[];
  facets?: Record<string, unknown>;
  /**
   * `facets` already serialized, exactly as `JSON.stringify(facets)` would:
   * a data plane that writes thousands of rows a second can build it from
   * cached pieces (see the Postgres runtime's audit). The store writes it
   * verbatim; live subscribers still read `facets`.
   */
  facetsJson?: string;
  /** One line a human scans: `GET /repos/x`, the SQL statement, the ssh command. */
  summary?: string;
  /** Upstream (or synthesized) response status; null when there was none. */
  status?: number | null;
  latencyMs?: number | null;
  bytesIn?: number;
  bytesOut?: number;
  reqHeaders?: SampledHeaders | null;
  reqBody?: SampledBody | null;
  respHeaders?: SampledHeaders | null;
  respBody?: SampledBody | null;
  /** e.g. {@link ActionFlags}. */
  flags?: readonly string[];
}

/** A stored action without the sampled headers and bodies — what lists return. */
export interface ActionSummary {
  /** Monotonic, never reused: the cursor for pagination and live tails. */
  id: number;
  time: number;
  device: string;
  profile: string;
  transport: string;
  endpoint: string;
  family: string;
  host: string;
  credential: string;
  rule: string;
  verdict: Verdict;
  reason: string;
  approvals: ApproverDecision[];
  facets: Record<string, unknown>;
  summary: string;
  status: number | null;
  latencyMs: number | null;
  bytesIn: number;
  bytesOut: number;
  flags: string[];
}

/** A stored action in full. Bodies come back as stored: TEXT as string, BLOB as Buffer. */
export interface ActionRow extends ActionSummary {
  reqHeaders: SampledHeaders | null;
  reqBody: string | Buffer | null;
  respHeaders: SampledHeaders | null;
  respBody: string | Buffer | null;
}

/** A value or a set of values to match exactly. */
export type Match = string | readonly string[];

/** Filters for {@link ActionsRepo.list}; all given ones must hold. */
export interface ActionFilter {
  /** time >= since (epoch ms). */
  since?: number;
  /** time < until (epoch ms). */
  until?: number;
  device?: Match;
  profile?: Match;
  endpoint?: Match;
  verdict?: Verdict | readonly Verdict[];
  rule?: Match;
  family?: Match;
  /** Case-insensitive substring of the host or the summary (method + path, statement...). */
  text?: string;
  /** Keyset cursor: only ids below this (the previous page's `nextBefore`). */
  before?: number;
  /** Only ids above this (a live tail catching up after a reconnect). */
  after?: number;
  /** Page size, default {@link DEFAULT_LIST_LIMIT}, capped at {@link MAX_LIST_LIMIT}. */
  limit?: number;
}

export interface ActionPage {
  /** Newest first. */
  rows: ActionSummary[];
  /** Pass as `before` for the next page; null when this was the last. */
  nextBefore: number | null;
}

/** Retention settings: a duration in ms, or null for keep forever ("0"/"off"). */
export interface RetentionPolicy {
  /** `actions_keep`: applies to every endpoint without its own setting. */
  keepMs: number | null;
  /** Per-endpoint `retention`, by `type.name`; an entry overrides keepMs, null keeps forever. */
  endpoints?: Readonly<Record<string, number | null>>;
}

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/** More values than this in one `Match` is a caller bug, not a query. */
const MAX_MATCH_VALUES = 100;
const MAX_TEXT_LENGTH = 500;
const STMT_CACHE_SIZE = 128;

const SUMMARY_COLUMNS =
  "id, time, device, profile, transport, endpoint, family, host, credential, rule, verdict, reason, " +
  "approvals, facets, summary, status, latency_ms, bytes_in, bytes_out, flags";
const ALL_COLUMNS = `${SUMMARY_COLUMNS}, req_headers, req_body, resp_headers, resp_body`;

interface DbRow {
  id: number;
  time: number;
  device: string;
  profile: string;
  transport: string;
  endpoint: string;
  family: string;
  host: string;
  credential: string;
  rule: string;
  verdict: Verdict;
  reason: string;
  approvals: string;
  facets: string;
  summary: string;
  status: number | null;
  latency_ms: number | null;
  bytes_in: number;
  bytes_out: number;
  flags: string;
  req_headers?: string | null;
  req_body?: string | Buffer | null;
  resp_headers?: string | null;
  resp_body?: string | Buffer | null;
}

/** Read/write access to the `actions` table. */
export class ActionsRepo {
  private readonly leanInsert: Statement<unknown[]>;
  private readonly fullInsert: Statement<unknown[]>;
  private readonly leanGroupInsert: Statement<unknown[]>;
  private readonly getStmt: Statement<[number], DbRow>;
  private readonly deleteAllStmt: Statement<[number]>;
  private readonly deleteEndpointStmt: Statement<[string, number]>;
  private readonly insertTx: (rows: readonly ActionColumns[]) => number[];
  private readonly listCache = new Map<string, Statement<unknown[], DbRow>>();

  constructor(private readonly db: Database) {
    this.leanInsert = db.prepare(LEAN_INSERT_SQL);
    this.fullInsert = db.prepare(FULL_INSERT_SQL);
    this.leanGroupInsert = db.prepare(LEAN_GROUP_INSERT_SQL);
    this.getStmt = db.prepare(`SELECT ${ALL_COLUMNS} FROM actions WHERE id = ?`);
    this.deleteAllStmt = db.prepare("DELETE FROM actions WHERE time < ?");
    this.deleteEndpointStmt = db.prepare("DELETE FROM actions WHERE endpoint = ? AND time < ?");
    this.insertTx = db.transaction((rows: readonly ActionColumns[]) => this.insertAll(rows));
  }

  /** Records one action; returns its id. */
  insert(row: NewAction): number {
    return this.insertColumns(encodeAction(row));
  }

  /**
   * Records a batch in one transaction (one WAL commit instead of one per
   * row); returns the ids in order. All or nothing: a bad row rolls back the batch.
   */
  insertMany(rows: readonly NewAction[]): number[] {
    return this.insertEncoded(rows.map(encodeAction));
  }

  /** {@link insertMany} for rows already encoded by `encodeAction` (the audit worker's path). */
  insertEncoded(rows: readonly ActionColumns[]): number[] {
    if (rows.length === 0) return [];
    return this.insertTx(rows);
  }

  /** One action in full, or undefined. */
  get(id: number): ActionRow | undefined {
    const r = this.getStmt.get(id);
    return r === undefined ? undefined : toRow(r);
  }

  /** A page of actions matching `filter`, newest first (by id). */
  list(filter: ActionFilter = {}): ActionPage {
    const q = buildListQuery(filter);
    if (q === null) return { rows: [], nextBefore: null };
    const rows = this.listStatement(q.sql).all(...q.params);
    const more = rows.length > q.limit; // the query fetched one extra row to know
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { rows: rows.map(toSummary), nextBefore: more && last !== undefined ? last.id : null };
  }

  /**
   * Deletes actions with `time < cutoffMs` — all of them, or only those of
   * one endpoint (`type.name`). Returns how many were deleted. The caller
   * computes the cutoff (now − retention) so the store needs no clock.
   */
  deleteOlderThan(cutoffMs: number, endpoint?: string): number {
    const cutoff = requireInt(cutoffMs, "cutoffMs");
    if (endpoint === undefined) return this.deleteAllStmt.run(cutoff).changes;
    return this.deleteEndpointStmt.run(endpoint, cutoff).changes;
  }

  /**
   * Applies `actions_keep` and per-endpoint `retention` together, in one
   * transaction: an endpoint with its own setting is governed only by it (a
   * longer per-endpoint retention is not undercut by the global one).
   * Returns how many rows were deleted.
   */
  applyRetention(nowMs: number, policy: RetentionPolicy): number {
    const now = requireInt(nowMs, "nowMs");
    const overrides = Object.entries(policy.endpoints ?? {});
    return this.db.transaction(() => {
      let deleted = 0;
      for (const [endpoint, keep] of overrides) {
        if (keep !== null && keep > 0) deleted += this.deleteOlderThan(now - keep, endpoint);
      }
      if (policy.keepMs !== null && policy.keepMs > 0) {
        const cutoff = now - requireInt(policy.keepMs, "keepMs");
        if (overrides.length === 0) {
          deleted += this.deleteOlderThan(cutoff);
        } else {
          const names = overrides.map(([n]) => n);
          const sql = `DELETE FROM actions WHERE time < ? AND endpoint NOT IN (${names.map(() => "?").join(", ")})`;
          deleted += this.db.prepare(sql).run(cutoff, ...names).changes;
        }
      }
      return deleted;
    }).immediate();
  }

  /** Inside a write transaction: runs of lean rows go in groups (see LEAN_GROUP), the rest one by one. */
  private insertAll(rows: readonly ActionColumns[]): number[] {
    const ids: number[] = [];
    let i = 0;
    while (i < rows.length) {
      let n = 0;
      while (n < LEAN_GROUP && i + n < rows.length && rows[i + n]!.length === LEAN_WIDTH) n++;
      if (n < LEAN_GROUP) {
        ids.push(this.insertColumns(rows[i]!));
        i++;
        continue;
      }
      const values: unknown[] = [];
      for (let k = 0; k < LEAN_GROUP; k++) values.push(...rows[i + k]!);
      // One writer inside one transaction, AUTOINCREMENT: the group's ids are consecutive, ending at the last.
      const last = Number(this.leanGroupInsert.run(values).lastInsertRowid);
      for (let k = LEAN_GROUP - 1; k >= 0; k--) ids.push(last - k);
      i += LEAN_GROUP;
    }
    return ids;
  }

  private insertColumns(cols: ActionColumns): number {
    const stmt = cols.length === LEAN_WIDTH ? this.leanInsert : this.fullInsert;
    return Number(stmt.run(bindable(cols)).lastInsertRowid);
  }

  private listStatement(sql: string): Statement<unknown[], DbRow> {
    let stmt = this.listCache.get(sql);
    if (stmt === undefined) {
      if (this.listCache.size >= STMT_CACHE_SIZE) this.listCache.clear();
      stmt = this.db.prepare<unknown[], DbRow>(sql);
      this.listCache.set(sql, stmt);
    }
    return stmt;
  }
}

/**
 * The SQL behind {@link ActionsRepo.list}; exported so tests can check the
 * query plan uses the indexes. Null when the filter can match nothing.
 */
export function buildListQuery(filter: ActionFilter): { sql: string; params: unknown[]; limit: number } | null {
  const where: string[] = [];
  const params: unknown[] = [];
  const limit = clampLimit(filter.limit);
  const bound = (cond: string, v: number | undefined, what: string): void => {
    if (v === undefined) return;
    where.push(cond);
    params.push(requireInt(v, what));
  };
  bound("time >= ?", filter.since, "since");
  bound("time < ?", filter.until, "until");
  bound("id < ?", filter.before, "before");
  bound("id > ?", filter.after, "after");
  for (const col of ["device", "profile", "endpoint", "verdict", "rule", "family"] as const) {
    const m = filter[col];
    if (m === undefined) continue;
    const values: string[] = typeof m === "string" ? [m] : [...m];
    if (values.length > MAX_MATCH_VALUES) throw new RangeError(`filter ${col}: at most ${MAX_MATCH_VALUES} values`);
    if (values.length === 0) return null;
    where.push(values.length === 1 ? `${col} = ?` : `${col} IN (${values.map(() => "?").join(", ")})`);
    params.push(...values);
  }
  if (filter.text !== undefined && filter.text !== "") {
    const pattern = `%${escapeLike(filter.text.slice(0, MAX_TEXT_LENGTH))}%`;
    where.push("(host LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\')");
    params.push(pattern, pattern);
  }
  const sql =
    `SELECT ${SUMMARY_COLUMNS} FROM actions` +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    " ORDER BY id DESC LIMIT ?";
  params.push(limit + 1);
  return { sql, params, limit };
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIST_LIMIT;
  return Math.min(MAX_LIST_LIMIT, Math.max(1, Math.trunc(limit)));
}

function requireInt(v: number, what: string): number {
  if (!Number.isFinite(v)) throw new TypeError(`${what} must be a finite number`);
  return Math.trunc(v);
}



/** `%`, `_` and `\` in user text match themselves, not as wildcards. */
function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}



function parseJson<T>(s: string | null | undefined, fallback: T): T {
  if (s === null || s === undefined) return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
}

function toSummary(r: DbRow): ActionSummary {
  return {
    id: r.id,
    time: r.time,
    device: r.device,
    profile: r.profile,
    transport: r.transport,
    endpoint: r.endpoint,
    family: r.family,
    host: r.host,
    credential: r.credential,
    rule: r.rule,
    verdict: r.verdict,
    reason: r.reason,
    approvals: parseJson<ApproverDecision[]>(r.approvals, []),
    facets: parseJson<Record<string, unknown>>(r.facets, {}),
    summary: r.summary,
    status: r.status,
    latencyMs: r.latency_ms,
    bytesIn: r.bytes_in,
    bytesOut: r.bytes_out,
    flags: parseJson<string[]>(r.flags, []),
  };
}

function toRow(r: DbRow): ActionRow {
  return {
    ...toSummary(r),
    reqHeaders: parseJson<SampledHeaders | null>(r.req_headers, null),
    reqBody: r.req_body ?? null,
    respHeaders: parseJson<SampledHeaders | null>(r.resp_headers, null),
    respBody: r.resp_body ?? null,
  };
}
