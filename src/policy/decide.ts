/**
 * The decision function: (compiled policy, action, clock) → verdict.
 *
 * Pure and synchronous — no sockets, no database, the clock is a parameter —
 * so the gateway's live path, `clawpatrol test` and the backtest all get the
 * same answer for the same input. Steps:
 *
 * 1. endpoint resolution: the host the agent dialed, looked up in the
 *    device's profile (or every endpoint when there is no profile);
 * 2. credential resolution: which of the profile's credentials at that
 *    endpoint the request uses (placeholder / user / database, else the
 *    fallback);
 * 3. the rule walk: rules by priority, first match wins; a rule's
 *    `credential` predicate is checked before its condition; no match is
 *    allow;
 * 4. fail-closed: a rule whose condition cannot be evaluated for this request
 *    (truncated or unparseable facets, runtime error) becomes a deny
 *    attributed to it; on SQL, a request that could not be fully inspected and
 *    matched no rule is denied too (the backstop).
 */
import type { Action, OpClass, UnknownCause } from "./action.js";
import { facetsOf } from "./action.js";
import { celValue, type VariableName } from "./cel/env.js";
import { GUARD_FIELDS, type Activation, type Unevaluable } from "./cel/compile.js";
import type { CompiledEndpoint, CompiledPolicy, CompiledRule, DispatchEntry } from "./compiled.js";
import { classifyOp } from "./facets/opclass.js";
import { timeContext } from "./clock.js";

export type Verdict = "allow" | "deny" | "approve" | "passthrough";

export interface Decision {
  verdict: Verdict;
  /** The endpoint that claimed the request, as `type.name`. */
  endpoint?: string;
  /** The rule that decided (absent when no rule matched). */
  rule?: string;
  /** Reason shown to the agent on deny. */
  reason?: string;
  /** Approver chain, for `approve`. */
  approvers?: string[];
  /** The credential the request was dispatched against. */
  credential?: string;
  /** Present when the verdict is a fail-closed deny: category and log-only detail. */
  failClosed?: { cause: UnknownCause | "error"; detail: string };
  /** Why no endpoint could be chosen (`unknown_host`, `ambiguous_host`, `unknown_profile`, `unknown_endpoint`). */
  problem?: { kind: "unknown_host" | "ambiguous_host" | "unknown_profile" | "unknown_endpoint"; message: string };
}

export interface DecideOptions {
  /** The clock, for `now.*` in rules. */
  now: Date;
  /** Pins the endpoint (bare `name` or typed `type.name`) instead of resolving the host. */
  endpoint?: string;
}

const CAUSE_TEXT: Record<UnknownCause | "error", string> = {
  truncated: "truncated at the inspection buffer",
  unparseable: "unparseable",
  error: "evaluation error",
};

/** The reason shape of a synthesized fail-closed deny (the reference's wording). */
export function failClosedReason(rule: string, cause: UnknownCause | "error"): string {
  return `rule "${rule}" could not be evaluated against this request (${CAUSE_TEXT[cause]}); failing closed`;
}

/** What the agent is told on a deny: the rule's reason, else which rule, else the policy. */
export function denyReason(d: Pick<Decision, "reason" | "rule">): string {
  return d.reason ?? (d.rule ? `denied by rule "${d.rule}"` : "denied by policy");
}

const ALLOWED = Object.freeze({ allow: true, reason: "" });

/**
 * What a decision means when no approver is involved: allowed, or refused
 * with what the agent is told (a `passthrough` reaching a gate means no
 * endpoint claimed the request). `undefined` for `approve`: the runtime
 * runs the approver chain instead. One mapping for every protocol runtime.
 */
export function settledVerdict(d: Decision): { readonly allow: boolean; readonly reason: string } | undefined {
  switch (d.verdict) {
    case "allow":
      return ALLOWED;
    case "deny":
      return { allow: false, reason: denyReason(d) };
    case "passthrough":
      return { allow: false, reason: d.problem?.message ?? "no endpoint claims this request" };
    case "approve":
      return undefined;
  }
}

export const TRUNCATED_APPROVAL_REASON = "approval required but request was truncated by inspection buffer";

function findEndpoint(policy: CompiledPolicy, ref: string): CompiledEndpoint | undefined {
  const dot = ref.indexOf(".");
  if (dot < 0) return policy.endpoints.get(ref);
  const ep = policy.endpoints.get(ref.slice(dot + 1));
  return ep && ep.type === ref.slice(0, dot) ? ep : undefined;
}

type Resolved = { endpoint: CompiledEndpoint; table: DispatchEntry[] } | { problem: NonNullable<Decision["problem"]> };

function resolveEndpoint(policy: CompiledPolicy, action: Action, pin: string | undefined): Resolved {
  const profile = action.profile !== undefined ? policy.profiles.get(action.profile) : undefined;
  if (action.profile !== undefined && !profile) {
    return { problem: { kind: "unknown_profile", message: `unknown profile "${action.profile}"` } };
  }
  if (pin !== undefined) {
    const ep = findEndpoint(policy, pin);
    if (!ep || (profile && !profile.endpoints.has(ep.name))) {
      return { problem: { kind: "unknown_endpoint", message: `no endpoint "${pin}"${profile ? ` in profile "${profile.name}"` : ""}` } };
    }
    return { endpoint: ep, table: (profile ? profile.dispatch : policy.dispatch).get(ep.name) ?? [] };
  }
  let hits = (profile ? profile.hosts : policy.hosts).lookup(action.host);
  if (hits.some((e) => e.family !== action.family)) hits = hits.filter((e) => e.family === action.family);
  if (hits.length === 0) {
    return { problem: { kind: "unknown_host", message: `no endpoint claims host "${action.host}"` } };
  }
  if (hits.length > 1) {
    return {
      problem: {
        kind: "ambiguous_host",
        message: `host "${action.host}" is claimed by multiple endpoints [${hits.map((h) => h.name).join(" ")}]; set \`match.endpoint\` to disambiguate`,
      },
    };
  }
  const endpoint = hits[0]!;
  return { endpoint, table: (profile ? profile.dispatch : policy.dispatch).get(endpoint.name) ?? [] };
}

/**
 * Picks the credential a request uses at an endpoint: an explicitly named one
 * (if the table has it), else the entry whose placeholder the request carries,
 * else the one matching the protocol user/database, else the fallback.
 */
export function resolveCredential(table: readonly DispatchEntry[], action: Action): DispatchEntry | undefined {
  if (action.credential !== undefined) return table.find((e) => e.credential === action.credential);
  const hints = action.dispatch;
  if (hints?.texts?.length) {
    const texts = hints.texts;
    const hit = table.find((e) => e.discriminators.placeholder !== undefined && texts.some((t) => t.includes(e.discriminators.placeholder!)));
    if (hit) return hit;
  }
  if (hints?.user !== undefined || hints?.database !== undefined) {
    const hit = table.find((e) => {
      const d = e.discriminators;
      if (d.user === undefined && d.database === undefined) return false;
      if (d.user !== undefined && d.user !== hints.user) return false;
      if (d.database !== undefined && d.database !== hints.database) return false;
      return true;
    });
    if (hit) return hit;
  }
  return table.find((e) => e.fallback);
}

/** The value of the family's verb field, which the rule index is keyed by. */
function verbOf(action: Action): string {
  switch (action.family) {
    case "http":
      return action.http.method;
    case "k8s":
      return action.k8s.verb;
    case "sql":
      return action.sql.verb;
    case "ssh":
      return action.ssh.verb;
  }
}

/** The rules worth walking: those whose verb guard admits this request (all of them if the verb is unknown). */
function rulesFor(endpoint: CompiledEndpoint, action: Action, unknown: ReadonlyMap<string, UnknownCause>): CompiledRule[] {
  if (endpoint.byGuard.size === 0 || unknown.has(GUARD_FIELDS[action.family])) return endpoint.rules;
  return endpoint.byGuard.get(verbOf(action)) ?? endpoint.unguarded;
}

const EMPTY_TIME = timeContext(new Date(0), "UTC");
const NO_UNKNOWNS: ReadonlyMap<string, UnknownCause> = new Map();

/**
 * Variable values for the rule walk. Rules compiled to closures read plain
 * facet objects, so on the common path (every rule compiled, nothing unknown)
 * only int fields need converting (CEL ints are BigInt) and context
 * variables are built only when some rule reads them. Otherwise cel-js is
 * involved and every variable is wrapped as its typed value.
 */
function activation(
  action: Action,
  endpoint: CompiledEndpoint,
  opClass: OpClass | undefined,
  now: Date,
  tz: string,
  typed: boolean,
): Activation {
  const ctx = endpoint.readsContext;
  const time = () => (endpoint.readsNow ? timeContext(now, tz) : EMPTY_TIME);
  if (typed) {
    return {
      [action.family]: celValue(action.family as VariableName, facetsOf(action), endpoint.reads),
      op: celValue("op", { class: opClass ?? "" }),
      agent: celValue("agent", { device: action.device ?? "", profile: action.profile ?? "" }),
      now: celValue("now", time()),
    };
  }
  const act: Activation = {
    [action.family]: action.family === "ssh" ? { ...action.ssh, forward_port: BigInt(Math.trunc(action.ssh.forward_port)) } : facetsOf(action),
  };
  if (ctx.op) act.op = { class: opClass ?? "" };
  if (ctx.agent) act.agent = { device: action.device ?? "", profile: action.profile ?? "" };
  if (ctx.now) act.now = time();
  return act;
}

function ruleOutcome(rule: CompiledRule, base: Decision, truncated: boolean): Decision {
  const d: Decision = { ...base, rule: rule.name };
  if (rule.approve.length > 0) {
    // Nobody can judge bytes that were never inspected, and a waiting request
    // whose body is still unread upstream-side cannot notice its client
    // leaving: an approval on a truncated request is a deny, in every family.
    if (truncated) {
      return { ...d, verdict: "deny", reason: TRUNCATED_APPROVAL_REASON };
    }
    d.verdict = "approve";
    d.approvers = rule.approve;
  } else {
    d.verdict = rule.verdict ?? "deny";
  }
  if (rule.reason !== undefined) d.reason = rule.reason;
  return d;
}

/** Decides one action. */
export function decide(policy: CompiledPolicy, action: Action, opts: DecideOptions): Decision {
  const resolved = resolveEndpoint(policy, action, opts.endpoint);
  if ("problem" in resolved) {
    const { problem } = resolved;
    if (problem.kind === "unknown_host") {
      return policy.defaults.unknownHost === "deny"
        ? { verdict: "deny", reason: `${problem.message} (defaults.unknown_host = "deny")`, problem }
        : { verdict: "passthrough", problem };
    }
    return { verdict: "deny", reason: problem.message, problem };
  }
  const { endpoint, table } = resolved;
  const base: Decision = { verdict: "allow", endpoint: endpoint.key };
  const cred = resolveCredential(table, action);
  if (cred) base.credential = cred.credential;

  let unknown = NO_UNKNOWNS;
  if (action.unknown && action.unknown.length > 0) {
    const m = new Map<string, UnknownCause>();
    for (const u of action.unknown) if (!m.has(u.field)) m.set(u.field, u.cause);
    unknown = m;
  }
  let opClass: OpClass | undefined;
  if (endpoint.readsContext.op) {
    const op = classifyOp(action);
    opClass = op.opClass;
    const cause = op.unknown?.cause ?? (op.opClass === undefined ? "unparseable" : undefined);
    if (cause && !unknown.has("op.class")) {
      const m = new Map(unknown);
      m.set("op.class", cause);
      unknown = m;
    }
  }
  const typed = endpoint.needsCelJs || unknown.size > 0;
  const act = activation(action, endpoint, opClass, opts.now, policy.defaults.timezone, typed);
  const truncated = unknown.size > 0 && [...unknown.values()].includes("truncated");

  const rules = rulesFor(endpoint, action, unknown);
  const unevaluable = (rule: CompiledRule, u: Unevaluable): Decision => ({
    ...base,
    verdict: "deny",
    rule: rule.name,
    reason: failClosedReason(rule.name, u.cause),
    failClosed: { cause: u.cause, detail: u.detail },
  });
  if (unknown.size === 0) {
    // Hot path: run the programs directly, one try for the whole walk.
    let i = 0;
    try {
      for (; i < rules.length; i++) {
        const rule = rules[i]!;
        if (rule.credential !== undefined && rule.credential !== base.credential) continue;
        const r = rule.condition.run(act);
        if (r === true) return ruleOutcome(rule, base, truncated);
        if (r !== false) {
          return unevaluable(rule, { unevaluable: true, cause: "error", detail: `condition evaluated to a non-boolean value (${typeof r})` });
        }
      }
    } catch (e) {
      const detail = (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
      return unevaluable(rules[i]!, { unevaluable: true, cause: "error", detail });
    }
  } else {
    for (const rule of rules) {
      if (rule.credential !== undefined && rule.credential !== base.credential) continue;
      const r = rule.condition.evaluate(act, unknown);
      if (r === false) continue;
      if (r === true) return ruleOutcome(rule, base, truncated);
      return unevaluable(rule, r);
    }
  }
  // SQL backstop: nothing decided a request we could not fully inspect.
  if (action.family === "sql" && endpoint.rules.length > 0) {
    const inspected = [...unknown].filter(([f]) => f.startsWith("sql."));
    if (inspected.length > 0) {
      const cause = inspected[0]![1];
      return {
        ...base,
        verdict: "deny",
        reason: `request could not be fully inspected (${CAUSE_TEXT[cause]}) and no rule decided it; failing closed`,
        failClosed: { cause, detail: `unknown ${inspected.map(([f]) => f).join(", ")}; no rule matched` },
      };
    }
  }
  return base;
}
