/**
 * Policy backtest: replay recorded actions against a candidate policy and
 * list every verdict that would change. Pure — rows in, result out; the
 * caller reads the rows (the API from the store, `clawpatrol test
 * --backtest` from a gateway's database) and must have awaited
 * {@link initReplay} when rows include SQL.
 *
 * What is compared is "what the rule engine said", not what finally
 * happened, because only the former is a property of the policy:
 *
 * - a row with approver decisions (or `approval_cancelled`) was an
 *   `approve` of its rule, whatever the approvers then decided;
 * - `error` rows (upstream failed after an allow) were an `allow`;
 * - a SQL statement denied only because *another* statement of its query
 *   was denied ("another statement of the same query was denied") was not
 *   denied by the engine: with no rule it was an `allow`; with a rule it
 *   was that rule's `allow` or `approve` — both are accepted;
 * - a row the agent abandoned (`client_disconnected`) after the decision
 *   has its verdict overwritten with deny and is skipped.
 *
 * A row changes when the candidate's verdict or deciding rule differs.
 * Rows are skipped (counted, not listed) when they cannot be replayed
 * (see replay.ts) or when the candidate's outcome depends on something the
 * audit did not keep: a rule reading a lost facet (a body, masked headers,
 * piped stdin, a sampled statement's tail), or a credential predicate on a
 * request whose credential was not recorded. Skips are never silent
 * changes: a backtest that says "nothing changes" has decided every row it
 * counted as replayed.
 *
 * The clock: each row is decided at its own `time`, so time-of-day rules
 * judge an action at the hour it happened (a backtest run at night would
 * otherwise flag every daytime action against an "office hours" rule).
 * `opts.now` decides every row at one instant instead.
 */
import type { ActionSummary } from "../store/actions.js";
import type { BacktestChange, BacktestResult } from "../web/api.js";
import type { Action } from "./action.js";
import type { CompiledEndpoint, CompiledPolicy } from "./compiled.js";
import { decide, type Decision } from "./decide.js";
import { actionFromRow } from "./replay.js";

export { initReplay } from "./replay.js";

export interface BacktestOptions {
  /** Decide every row at this instant instead of at its own time. */
  now?: Date;
}

/** Reason prefix the Postgres runtime gives statements denied for a sibling's sake. */
const SIBLING_DENIED = "another statement of the same query was denied";

/** What the rule engine said about a recorded row: accepted verdicts and the rule. */
export interface RecordedDecision {
  verdicts: readonly string[];
  rule: string;
}

/** The engine's recorded say on a row, or why it cannot be known. */
export function recordedDecision(row: ActionSummary): RecordedDecision | { skip: string } {
  const flags = new Set(row.flags);
  const rule = row.rule;
  if (row.family === "sql" && row.reason.startsWith(SIBLING_DENIED)) {
    return { verdicts: rule === "" ? ["allow"] : ["allow", "approve"], rule };
  }
  if (row.approvals.length > 0 || flags.has("approval_cancelled")) {
    // SQL attaches a query's approvals to each of its statements; a statement without a rule asked none.
    if (row.family === "sql" && rule === "") return { verdicts: ["allow"], rule };
    return { verdicts: ["approve"], rule };
  }
  if (flags.has("client_disconnected")) return { skip: "the agent disconnected; the recorded verdict is not the policy's" };
  if (row.verdict === "error") return { verdicts: ["allow"], rule };
  return { verdicts: [row.verdict], rule };
}

function findEndpoint(policy: CompiledPolicy, key: string): CompiledEndpoint | undefined {
  const dot = key.indexOf(".");
  const ep = policy.endpoints.get(dot < 0 ? key : key.slice(dot + 1));
  return ep && (dot < 0 || ep.type === key.slice(0, dot)) ? ep : undefined;
}

/** Whether a condition reading `reads` depends on one of `lost` (same matching as the CEL layer). */
function readsAny(reads: Iterable<string>, lost: readonly string[]): boolean {
  for (const r of reads) {
    if (lost.includes(r)) return true;
    if (r.endsWith(".*") && lost.some((l) => l.startsWith(r.slice(0, -1)))) return true;
  }
  return false;
}

/**
 * Decides a rebuilt action, telling the candidate's real verdict from an
 * artefact of lost facets. With lost facets marked unknown, every rule the
 * walk passed evaluated definitively (three-valued logic: a definite result
 * holds for every value of the unknowns). So the result stands unless it
 * failed closed: on a rule reading a lost facet we cannot know (skip); on
 * the SQL backstop, the lost statement text does not count as uninspected,
 * so decide again without it.
 */
function decideRow(policy: CompiledPolicy, action: Action, lost: readonly string[], now: Date, pin: string | undefined): Decision | { skip: string } {
  const opts = pin !== undefined ? { now, endpoint: pin } : { now };
  const d = decide(policy, action, opts);
  if (!d.failClosed || lost.length === 0) return d;
  if (d.rule !== undefined) {
    const ep = d.endpoint !== undefined ? findEndpoint(policy, d.endpoint) : undefined;
    const rule = ep?.rules.find((r) => r.name === d.rule);
    if (!rule || readsAny(rule.condition.reads, lost)) {
      return { skip: `rule "${d.rule}" reads ${lost.join(", ")}, which the audit does not keep` };
    }
    return d;
  }
  const own = (action.unknown ?? []).filter((u) => !lost.includes(u.field));
  const again: Action = { ...action };
  if (own.length > 0) again.unknown = own;
  else delete again.unknown;
  return decide(policy, again, opts);
}

/**
 * Whether an unrecorded credential could change the outcome: some rule at
 * the endpoint has a credential predicate and dispatch is not a foregone
 * conclusion (several credentials, or one that needs a discriminator).
 */
function credentialMatters(policy: CompiledPolicy, ep: CompiledEndpoint, profile: string | undefined): boolean {
  if (!ep.rules.some((r) => r.credential !== undefined)) return false;
  const table = (profile !== undefined ? policy.profiles.get(profile)?.dispatch : policy.dispatch)?.get(ep.name) ?? [];
  return !(table.length === 0 || (table.length === 1 && table[0]!.fallback));
}

/** Replays `rows` against `candidate`; see the module comment for the semantics. */
export function backtestRows(candidate: CompiledPolicy, rows: readonly ActionSummary[], opts: BacktestOptions = {}): BacktestResult {
  const changed: BacktestChange[] = [];
  let replayed = 0;
  let skipped = 0;
  for (const row of rows) {
    const before = recordedDecision(row);
    const rebuilt = "skip" in before ? before : actionFromRow(row);
    if ("skip" in rebuilt || "skip" in before) {
      skipped++;
      continue;
    }
    const { action, lost } = rebuilt;
    const ep = row.endpoint !== "" ? findEndpoint(candidate, row.endpoint) : undefined;
    if (action.credential === undefined && ep && credentialMatters(candidate, ep, action.profile)) {
      // Which credential a denied request would have used was not recorded.
      skipped++;
      continue;
    }
    const d = decideRow(candidate, action, lost, opts.now ?? new Date(row.time), ep?.key);
    if ("skip" in d) {
      skipped++;
      continue;
    }
    replayed++;
    const rule = d.rule ?? "";
    if (before.verdicts.includes(d.verdict) && before.rule === rule) continue;
    const after: BacktestChange["after"] = { verdict: d.verdict, rule };
    const reason = d.reason ?? d.problem?.message;
    if (reason !== undefined) after.reason = reason;
    changed.push({
      actionId: row.id,
      time: row.time,
      summary: row.summary,
      endpoint: row.endpoint !== "" ? row.endpoint : (d.endpoint ?? ""),
      before: { verdict: before.verdicts.join("|"), rule: before.rule },
      after,
    });
  }
  return { replayed, changed, skipped };
}
