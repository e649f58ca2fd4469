/**
 * The gate: one SSH channel action → an `ssh` Action → decide() → (approval
 * chain) → allow or deny. The same pure decision function `clawpatrol test`
 * runs, pinned to the endpoint that claimed the flow.
 *
 * Fail closed everywhere: a decide() that throws, an approve verdict whose
 * chain cannot be resolved, an approval that errors, times out or loses its
 * agent — all deny. Nothing here touches the upstream; the caller dials only
 * on `allow`.
 */
import type { Action, SshFacets, UnknownFacet } from "../../../policy/action.js";
import type { CompiledEndpoint } from "../../../policy/compiled.js";
import { decide, settledVerdict, type Decision } from "../../../policy/decide.js";
import { sshFacets } from "../../../policy/facets/ssh.js";
import { runApprovalChain, type StageDecision } from "../../approvals.js";
import type { Flow } from "../../flow.js";
import type { SshInterceptDeps } from "./ports.js";

/** Who is asking: the flow, the endpoint that claimed it, the agent's SSH login. */
export interface GateContext {
  flow: Flow;
  endpoint: CompiledEndpoint;
  /** `host:port` the runtime dials (the route's upstream). */
  host: string;
  /** The user name the agent logged in with (passed upstream unchanged; the dispatch key). */
  user: string;
}

/** The final say on one channel action. */
export interface GateOutcome {
  allow: boolean;
  decision: Decision;
  /** Why, for the agent on deny ("" on allow). */
  reason: string;
  rule: string;
  /** The credential the policy dispatched the action to ("" when none). */
  credential: string;
  approvals: StageDecision[];
  cancelled: boolean;
  failClosed: boolean;
}

/**
 * Whether any enabled rule of the endpoint reads `ssh.stdin` — only then is
 * piped stdin worth withholding from upstream (the pre-gate costs latency
 * and, for a stdin that never ends, the command itself). Whole-variable
 * reads (`ssh.*`) count, as does the condition text naming it.
 */
export function endpointReadsStdin(ep: CompiledEndpoint): boolean {
  if (ep.reads.has("ssh.stdin") || ep.reads.has("ssh.*")) return true;
  return ep.rules.some((r) => r.condition.source.includes("ssh.stdin"));
}

/** Stdin as the pre-gate saw it. */
export interface StdinFacet {
  text: string;
  /** The buffer overflowed, or the stream neither ended nor went quiet in time. */
  truncated: boolean;
}

/** The action for one channel request. */
export function buildSshAction(ctx: GateContext, facets: Partial<SshFacets>, stdin?: StdinFacet): Action {
  const unknown: UnknownFacet[] = stdin?.truncated ? [{ field: "ssh.stdin", cause: "truncated" }] : [];
  return {
    family: "ssh",
    host: ctx.host,
    ssh: sshFacets({ ...facets, user: ctx.user, stdin: stdin?.text ?? "" }),
    dispatch: { user: ctx.user },
    device: ctx.flow.device,
    profile: ctx.flow.profile,
    ...(ctx.flow.peer ? { peerIp: ctx.flow.peer.address } : {}),
    ...(unknown.length > 0 ? { unknown } : {}),
  };
}

/** One line a human scans in the audit log and the approval queue. */
export function summaryOf(f: SshFacets): string {
  switch (f.verb) {
    case "exec":
      return f.command;
    case "subsystem":
      return `subsystem ${f.subsystem}`;
    case "forward":
      return `forward ${f.forward_host.includes(":") ? `[${f.forward_host}]` : f.forward_host}:${f.forward_port}`;
    default:
      return f.verb;
  }
}

/** The facets as the audit and approvers see them: stdin reduced to its size (its sample goes in `reqBody`). */
export function auditFacets(a: Action): Record<string, unknown> {
  if (a.family !== "ssh") return {};
  const { stdin, ...rest } = a.ssh;
  const out: Record<string, unknown> = { ssh: { ...rest, stdin_bytes: Buffer.byteLength(stdin) } };
  if (a.unknown && a.unknown.length > 0) out["unknown"] = a.unknown.map((u) => ({ ...u }));
  return out;
}

/**
 * Decides `action` and, for `approve`, runs the approver chain (aborted by
 * `signal` when the channel or connection goes away). Never rejects.
 */
export async function settleSsh(deps: SshInterceptDeps, ctx: GateContext, action: Action, signal: AbortSignal): Promise<GateOutcome> {
  const policy = deps.policy();
  let decision: Decision;
  try {
    decision = decide(policy, action, { now: deps.now(), endpoint: ctx.endpoint.key });
  } catch (e) {
    deps.log.error("policy decision failed; denying", { flow: ctx.flow.id, error: e instanceof Error ? e.message : String(e) });
    decision = { verdict: "deny", reason: "policy evaluation failed; failing closed", failClosed: { cause: "error", detail: "decide threw" } };
  }
  if (decision.failClosed) {
    deps.log.info("rule failed closed", { flow: ctx.flow.id, rule: decision.rule, cause: decision.failClosed.cause, detail: decision.failClosed.detail });
  }
  const base = {
    decision,
    rule: decision.rule ?? "",
    credential: decision.credential ?? "",
    approvals: [] as StageDecision[],
    cancelled: false,
    failClosed: decision.failClosed !== undefined,
  };
  const settled = settledVerdict(decision);
  if (settled) return { ...base, ...settled };
  const out = await runApprovalChain(
    deps.approvals,
    policy,
    decision,
    {
      endpoint: ctx.endpoint.key,
      device: ctx.flow.device,
      profile: ctx.flow.profile,
      summary: action.family === "ssh" ? summaryOf(action.ssh) : "ssh",
      facets: auditFacets(action),
    },
    signal,
  );
  if (out.failClosed) return { ...base, allow: false, reason: out.reason, cancelled: out.cancelled, failClosed: true };
  return { ...base, allow: out.allow, reason: out.allow ? "" : out.reason || "approval denied", approvals: out.decisions, cancelled: out.cancelled };
}
