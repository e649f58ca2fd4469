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

  get flags(): readonly string[] {
    return this.#flags ?? NONE;
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
      summary: sample(statement.replace(/\s+/g, " ").trim(), 200),
      status: null,
      latencyMs: this.verdict === "allow" ? Math.round((performance.now() - this.#t0) * 1000) / 1000 : null,
      bytesIn: sql ? Buffer.byteLength(sql.statement) : 0,
      bytesOut: 0,
      flags: this.#flags ? [...this.#flags] : NONE,
    };
  }
}

/** The first `max` bytes of `s`, on a character boundary. */
function sample(s: string, max: number): string {
  if (s.length <= max / 4 || Buffer.byteLength(s) <= max) return s;
  return Buffer.from(s).subarray(0, max).toString("utf8").replace(/\uFFFD$/, "");
}
