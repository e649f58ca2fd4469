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

/** One statement on its way; becomes one audit row when it ends. */
export class StatementAudit {
  readonly time = Date.now();
  readonly #t0 = performance.now();
  tag: string | undefined;
  errorCode: string | undefined;
  #done = false;

  constructor(
    readonly st: GatedStatement,
    readonly verdict: "allow" | "deny",
    readonly reason: string,
    readonly approvals: readonly StageDecision[],
    readonly flags: Set<string>,
  ) {}

  get done(): boolean {
    return this.#done;
  }

  /** Marks the statement finished and returns its row (once; later calls return undefined). */
  finish(s: GateSession, sampleBytes: number, extraFlag?: string): NewAction | undefined {
    if (this.#done) return undefined;
    this.#done = true;
    if (extraFlag) this.flags.add(extraFlag);
    const a = this.st.action;
    const sql = a.family === "sql" ? a.sql : undefined;
    const statement = sql ? sample(sql.statement, sampleBytes) : "";
    const d = this.st.decision;
    if (d.failClosed) this.flags.add(PgAuditFlags.failClosed);
    if (a.unknown?.length) this.flags.add(PgAuditFlags.facetsUnknown);
    const facets: Record<string, unknown> = {
      sql: sql ? { ...sql, statement } : {},
      ...(a.unknown?.length ? { unknown: a.unknown.map((u) => ({ ...u })) } : {}),
      ...(a.opClass ? { op: { class: a.opClass } } : {}),
      result: {
        ...(this.tag !== undefined ? { tag: this.tag, rows: rowsOfTag(this.tag) } : {}),
        ...(this.errorCode !== undefined ? { error_code: this.errorCode } : {}),
      },
    };
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
      approvals: this.approvals.map((x) => ({ approver: x.stage, decision: x.verdict, by: x.by, at: x.at, ...(x.reason !== undefined ? { reason: x.reason } : {}) })),
      facets,
      summary: sample(statement.replace(/\s+/g, " ").trim(), 200),
      status: null,
      latencyMs: this.verdict === "allow" ? Math.round((performance.now() - this.#t0) * 1000) / 1000 : null,
      bytesIn: sql ? Buffer.byteLength(sql.statement) : 0,
      bytesOut: 0,
      flags: [...this.flags],
    };
  }
}

/** The first `max` bytes of `s`, on a character boundary. */
function sample(s: string, max: number): string {
  if (s.length <= max / 4 || Buffer.byteLength(s) <= max) return s;
  return Buffer.from(s).subarray(0, max).toString("utf8").replace(/\uFFFD$/, "");
}
