/**
 * The policy gate of the Postgres runtime: SQL text in, verdict out. A query
 * (simple `Query` or an extended-protocol `Parse`) is split into statements
 * by the analyzer, each statement becomes one `sql` action decided by the
 * policy core, and the query goes upstream only if every statement is
 * allowed — waiting in the approvals engine when a rule asks for approval.
 *
 * No sockets here: the session calls {@link gateQuery} and acts on the
 * answer, so the gate is tested without a server.
 */
import type { Action, UnknownFacet } from "../../../policy/action.js";
import type { CompiledEndpoint, CompiledPolicy } from "../../../policy/compiled.js";
import { decide, settledVerdict, type Decision } from "../../../policy/decide.js";
import { combineStatementDecisions, statementViews, UNPARSEABLE_FIELDS, type StatementView } from "../../../policy/query.js";
import { analyzeSql, type SqlAnalysis } from "../../../policy/sql/analyze.js";
import { runApprovalChain, type ChainOutcome, type ApprovalOutcome, type ApprovalSubject, type ApproverStage, type StageDecision } from "../../approvals.js";

/** Who is asking, fixed for a session. */
export interface GateSession {
  endpoint: CompiledEndpoint;
  /** The host the agent dialed (for host-based resolution and the audit). */
  host: string;
  device: string;
  profile: string;
  /** Which transport the flow came on (audit only). */
  transport: string;
  peerIp?: string;
  /** The agent's StartupMessage user and database. */
  user: string;
  database: string;
  /** The credential chosen at startup. */
  credential: string;
}

export interface GateDeps {
  policy(): CompiledPolicy;
  approvals: { run(subject: ApprovalSubject, chain: readonly ApproverStage[], signal: AbortSignal): Promise<ApprovalOutcome> };
  now(): Date;
  log: { info(msg: string, fields?: Record<string, unknown>): void };
}

/** One statement of a gated query, with its own decision (for the audit). */
export interface GatedStatement {
  action: Action;
  decision: Decision;
}

/** The verdict on a whole query. */
export interface QueryVerdict {
  allow: boolean;
  /** Shown to the agent on deny. */
  reason: string;
  /** The deciding statement's decision (the first deny, else the first approval, else the first allow). */
  decision: Decision | undefined;
  statements: GatedStatement[];
  approvals: StageDecision[];
  /** The client left while an approval was pending. */
  cancelled: boolean;
}

/** SQL facet fields left unknown when the statement overflowed the inspection buffer. */
const TRUNCATED_FIELDS = ["sql.statement", ...UNPARSEABLE_FIELDS] as const;

/**
 * Analyses are cached: drivers send the same statement text over and over,
 * and simple-protocol clients send the same statement with different
 * numbers inlined (`... WHERE aid = 4711`). See {@link numberShape}.
 */
const exactCache = new Map<string, SqlAnalysis>();
const shapeCache = new Map<string, { analysis: Extract<SqlAnalysis, { ok: true }>; offsets: number[] }>();
const CACHEABLE = 4096;
const CACHE_SIZE = 1024;

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
}

/**
 * The text with every numeric literal's digits replaced by `0`, keeping
 * every offset — or undefined when the text has anything a digit could
 * hide in (quotes, dollar quoting, parameters, comments, backslashes) or
 * no free-standing number at all. A number's value never changes a
 * statement's verbs, tables, functions or operation class, so two texts
 * with one shape share an analysis.
 */
export function numberShape(text: string): string | undefined {
  let out = "";
  let from = 0;
  let prevWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Quotes, dollar quoting, backslashes, comments and non-ASCII could hide a digit that matters.
    if (c === 39 || c === 34 || c === 36 || c === 92 || c > 0x7f) return undefined;
    if ((c === 45 && text.charCodeAt(i + 1) === 45) || (c === 47 && text.charCodeAt(i + 1) === 42)) return undefined;
    const digit = c >= 48 && c <= 57;
    if (digit && !prevWord) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      out += text.slice(from, i) + "0".repeat(j - i);
      from = j;
      i = j - 1;
      prevWord = true;
      continue;
    }
    prevWord = digit || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  }
  return from === 0 ? undefined : out + text.slice(from);
}

/** The SQL analysis of `text`, from a cache when possible; statement texts are always `text`'s own. */
export function analyzeCached(text: string): SqlAnalysis {
  if (text.length > CACHEABLE) return analyzeSql(text);
  const exact = exactCache.get(text);
  if (exact) return exact;
  const shape = numberShape(text);
  const similar = shape !== undefined ? shapeCache.get(shape) : undefined;
  if (similar) {
    // Same shape, same offsets: cut this text's statements where the cached ones were.
    const statements = similar.analysis.statements.map((st, i) => ({ ...st, statement: text.slice(similar.offsets[i], similar.offsets[i]! + st.statement.length) }));
    return { ok: true, statements };
  }
  const a = analyzeSql(text);
  remember(exactCache, text, a);
  if (shape !== undefined && a.ok) {
    const offsets: number[] = [];
    let from = 0;
    for (const st of a.statements) {
      const at = text.indexOf(st.statement, from);
      if (at < 0) return a; // cannot map the statements back: do not share this analysis
      offsets.push(at);
      from = at + st.statement.length;
    }
    remember(shapeCache, shape, { analysis: a, offsets });
  }
  return a;
}

/**
 * The statement views of a query. `truncated` means `text` is only the
 * first part of a statement larger than the inspection buffer: nothing
 * parsed from a prefix can be trusted, so it is one view whose facets
 * (text included) are unknown.
 */
export function viewsOf(text: string, truncated: boolean): { views: StatementView[]; unknown: UnknownFacet[] } {
  if (truncated) {
    const unknown = TRUNCATED_FIELDS.map((field) => ({ field, cause: "truncated" as const }));
    return { views: [{ statement: text, verb: "", verbs: [], tables: [], functions: [], unknown }], unknown };
  }
  return { views: statementViews(text, analyzeCached(text)), unknown: [] };
}

function actionOf(view: StatementView, s: GateSession): Action {
  const action: Action = {
    family: "sql",
    host: s.host,
    sql: { verb: view.verb, verbs: view.verbs, tables: view.tables, functions: view.functions, statement: view.statement, database: s.database },
    credential: s.credential,
    dispatch: { user: s.user, database: s.database },
    device: s.device,
    profile: s.profile,
  };
  if (s.peerIp !== undefined) action.peerIp = s.peerIp;
  if (view.opClass !== undefined) action.opClass = view.opClass;
  if (view.unknown && view.unknown.length > 0) action.unknown = view.unknown;
  return action;
}


/**
 * Decides a query without waiting: the final verdict, or — when some
 * statement's rule asks for approval — `pending` with the statements, for
 * {@link awaitApprovals}. Kept synchronous so the common case costs no
 * promise hops per statement.
 */
export function decideQuery(text: string, truncated: boolean, s: GateSession, deps: GateDeps): QueryVerdict | { pending: QueryVerdict } {
  const policy = deps.policy();
  const now = deps.now();
  const { views } = viewsOf(text, truncated);
  const statements: GatedStatement[] = [];
  const decisions: Decision[] = [];
  for (const view of views) {
    const action = actionOf(view, s);
    const decision = decide(policy, action, { now, endpoint: s.endpoint.key });
    if (decision.failClosed) {
      deps.log.info("rule failed closed", { rule: decision.rule, cause: decision.failClosed.cause, detail: decision.failClosed.detail });
    }
    statements.push({ action, decision });
    decisions.push(decision);
  }
  const decision = combineStatementDecisions(decisions);
  const verdict = (allow: boolean, reason: string): QueryVerdict => ({ allow, reason, decision, statements, approvals: [], cancelled: false });
  if (!decision) return verdict(true, "");
  const settled = settledVerdict(decision);
  return settled ? verdict(settled.allow, settled.reason) : { pending: verdict(false, "") };
}

/** Runs the approval chain of every statement that needs one, in order; all must allow. */
export async function awaitApprovals(v: QueryVerdict, s: GateSession, deps: GateDeps, signal: AbortSignal): Promise<QueryVerdict> {
  const approvals: StageDecision[] = [];
  for (const st of v.statements) {
    if (st.decision.verdict !== "approve") continue;
    const out = await approve(st, s, deps, signal);
    approvals.push(...out.decisions);
    if (!out.allow) return { ...v, decision: st.decision, approvals, allow: false, reason: out.reason, cancelled: out.cancelled };
  }
  return { ...v, approvals, allow: true, reason: "" };
}

/** Decides a query, waiting for approvals when a rule asks for them. */
export async function gateQuery(text: string, truncated: boolean, s: GateSession, deps: GateDeps, signal: AbortSignal): Promise<QueryVerdict> {
  const v = decideQuery(text, truncated, s, deps);
  return "pending" in v ? awaitApprovals(v.pending, s, deps, signal) : v;
}

function approve(st: GatedStatement, s: GateSession, deps: GateDeps, signal: AbortSignal): Promise<ChainOutcome> {
  const sql = st.action.family === "sql" ? st.action.sql : undefined;
  return runApprovalChain(
    deps.approvals,
    deps.policy(),
    st.decision,
    {
      endpoint: s.endpoint.key,
      device: s.device,
      profile: s.profile,
      summary: sql ? sql.statement.slice(0, 200) : "",
      facets: sql ? { sql: { ...sql, statement: sql.statement.slice(0, 4096) } } : {},
    },
    signal,
  );
}
