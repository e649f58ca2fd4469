/**
 * Audit records of the Postgres runtime: one action per statement, with the
 * statement text (sampled), the facets rules saw, the verdict and rule, and
 * — for statements that ran — the rows and duration from the upstream's
 * CommandComplete (or the upstream's error code).
 *
 * The agent never holds the upstream password and the gateway never writes
 * it into the SQL stream, so statements need no secret redaction; the
 * credential is recorded by name only.
 */
import type { NewAction } from "../../../store/actions.js";
import type { StageDecision } from "../../approvals.js";
import type { GateSession, GatedStatement } from "./gate.js";
import { rowsOfTag } from "./wire.js";

/** Flags this runtime sets on audit rows. */
export const PgAuditFlags = {
  failClosed: "fail_closed",
  facetsUnknown: "facets_unknown",
  inspectionTruncated: "inspection_truncated",
  upstreamError: "upstream_error",
  approvalCancelled: "approval_cancelled",
  /** The statement was sent but its result never came (session ended). */
  incomplete: "incomplete",
} as const;

const NONE: readonly never[] = Object.freeze([]);

/** One statement on its way; becomes one audit row when it ends. */
export class StatementAudit {
  readonly time = Date.now();
  readonly #t0 = performance.now();
  tag: string | undefined;
  errorCode: string | undefined;
  #done = false;
  /** Created on the first flag: most statements have none. */
  #flags: string[] | undefined;

  constructor(
    readonly st: GatedStatement,
    readonly verdict: "allow" | "deny",
    readonly reason: string,
    readonly approvals: readonly StageDecision[],
    flags?: readonly string[],
  ) {
    if (flags !== undefined && flags.length > 0) this.#flags = [...flags];
  }

  get done(): boolean {
    return this.#done;
  }

  addFlag(flag: string): void {
    const flags = (this.#flags ??= []);
    if (!flags.includes(flag)) flags.push(flag);
  }

  /** Marks the statement finished and returns its row (once; later calls return undefined). */
  finish(s: GateSession, sampleBytes: number, extraFlag?: string): NewAction | undefined {
    if (this.#done) return undefined;
    this.#done = true;
    if (extraFlag) this.addFlag(extraFlag);
    const a = this.st.action;
    const sql = a.family === "sql" ? a.sql : undefined;
    const statement = sql ? sample(sql.statement, sampleBytes) : "";
    const d = this.st.decision;
    if (d.failClosed) this.addFlag(PgAuditFlags.failClosed);
    if (a.unknown?.length) this.addFlag(PgAuditFlags.facetsUnknown);
    // Built key by key (no spreads): this runs once per statement on the data-plane thread.
    const facets: Record<string, unknown> = { sql: sql ? (statement === sql.statement ? sql : { ...sql, statement }) : {} };
    if (a.unknown?.length) facets["unknown"] = a.unknown.map((u) => ({ ...u }));
    if (a.opClass) facets["op"] = { class: a.opClass };
    const result: Record<string, unknown> = {};
    if (this.tag !== undefined) {
      result["tag"] = this.tag;
      result["rows"] = rowsOfTag(this.tag);
    }
    if (this.errorCode !== undefined) result["error_code"] = this.errorCode;
    facets["result"] = result;
    const facetsJson = a.unknown?.length || !sql ? undefined : sqlFacetsJson(sql, statement, a.opClass, result);
    return {
      time: this.time,
      device: s.device,
      profile: s.profile,
      transport: s.transport,
      endpoint: s.endpoint.key,
      family: "sql",
      host: s.host,
      credential: this.verdict === "allow" ? s.credential : "",
      rule: d.rule ?? "",
      verdict: this.verdict,
      reason: this.reason,
      approvals: this.approvals.length === 0 ? NONE : this.approvals.map((x) => ({ approver: x.stage, decision: x.verdict, by: x.by, at: x.at, ...(x.reason !== undefined ? { reason: x.reason } : {}) })),
      facets,
      ...(facetsJson !== undefined ? { facetsJson } : {}),
      summary: sample(statement.replace(/\s+/g, " ").trim(), 200),
      status: null,
      latencyMs: this.verdict === "allow" ? Math.round((performance.now() - this.#t0) * 1000) / 1000 : null,
      bytesIn: sql ? Buffer.byteLength(sql.statement) : 0,
      bytesOut: 0,
      flags: this.#flags ? [...this.#flags] : NONE,
    };
  }
}

type SqlFacets = Extract<GatedStatement["action"], { family: "sql" }>["sql"];

/**
 * The JSON of a statement row's facets (`sql`, `op`, `result`, in that key
 * order), equal to `JSON.stringify` of the facets object `finish` builds.
 * The analysis part (verb, verbs, tables, functions) is the same for every
 * statement of one shape — the analysis cache hands out the same arrays —
 * so its JSON is built once per shape and only the statement text and the
 * result are serialized per row.
 */
function sqlFacetsJson(sql: SqlFacets, statement: string, opClass: string | undefined, result: Record<string, unknown>): string {
  let head = analysisJson.get(sql.verbs);
  if (head === undefined || head.verb !== sql.verb || head.tables !== sql.tables || head.functions !== sql.functions) {
    const json = JSON.stringify({ verb: sql.verb, verbs: sql.verbs, tables: sql.tables, functions: sql.functions });
    head = { verb: sql.verb, tables: sql.tables, functions: sql.functions, json: json.slice(0, -1) };
    analysisJson.set(sql.verbs, head);
  }
  const op = opClass ? `,"op":${JSON.stringify({ class: opClass })}` : "";
  return `{"sql":${head.json},"statement":${JSON.stringify(statement)},"database":${JSON.stringify(sql.database)}}${op},"result":${JSON.stringify(result)}}`;
}

/** Per `verbs` array of an analysis: the JSON of the analysis fields, without its closing brace. */
const analysisJson = new WeakMap<readonly string[], { verb: string; tables: readonly string[]; functions: readonly string[]; json: string }>();

/** The first `max` bytes of `s`, on a character boundary. */
function sample(s: string, max: number): string {
  if (s.length <= max / 4 || Buffer.byteLength(s) <= max) return s;
  return Buffer.from(s).subarray(0, max).toString("utf8").replace(/\uFFFD$/, "");
}
