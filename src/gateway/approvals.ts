/**
 * The approvals engine: where a request whose rule says `approve = [...]`
 * waits while its approver chain runs.
 *
 * Stages run in order and every one must allow; the first deny ends the
 * chain. A human stage parks the request in the pending pool until enough
 * distinct people approve (`require_approvers`), someone denies, the stage
 * times out (`timeout`, else `defaults.human_timeout`; the outcome is
 * `defaults.human_on_timeout`, deny unless set to allow), or the waiting
 * client goes away. An LLM stage asks the injected judge; errors and
 * timeouts follow `defaults.llm_fail_mode`. Whatever happens — a thrown
 * error, a lost client, a timer — the outcome is a deny unless an explicit
 * allow got there first: the caller forwards upstream only on `allow`.
 *
 * Decisions arrive through {@link ApprovalsEngine.decide}, which the
 * operator API (dashboard, Slack callbacks) calls; live consumers subscribe
 * with {@link ApprovalsEngine.subscribe}.
 */
import { randomUUID } from "node:crypto";
import type { ApproverDecl, Defaults } from "../config/model.js";
import type { CompiledPolicy } from "../policy/compiled.js";
import type { Decision } from "../policy/decide.js";

export type StageKind = "human" | "llm";

/** One approver in a chain, with its effective settings. */
export interface ApproverStage {
  /** Approver name (`ops`, `dashboard`, ...). */
  name: string;
  kind: StageKind;
  /** How long to wait for this stage, in ms. */
  timeoutMs: number;
  /** Human stages: what a timeout means. */
  onTimeout: "deny" | "allow";
  /** Human stages: distinct approvals needed (≥ 1). */
  requireApprovers: number;
  /** LLM stages: what an error or timeout means. */
  failMode: "open" | "closed";
}

/** What approvers and operators see about the waiting request. */
export interface ApprovalSubject {
  endpoint: string;
  rule: string;
  reason?: string;
  device?: string;
  profile?: string;
  /** A short human-readable summary (`POST /v1/refunds`, the SQL statement, ...). */
  summary: string;
  /** The action's facets (already redacted), for display and LLM judges. */
  facets?: unknown;
}

export interface StageDecision {
  stage: string;
  verdict: "allow" | "deny";
  /** Who decided: an operator login, `llm:<model>`, `timeout`, `client`. */
  by: string;
  reason?: string;
  at: number;
}

export interface ApprovalOutcome {
  verdict: "allow" | "deny";
  /** Why, for the agent on deny. */
  reason: string;
  decisions: StageDecision[];
  /** The client went away before a final allow. */
  cancelled?: boolean;
}

/** A human stage waiting in the pending pool. */
export interface PendingApproval {
  id: string;
  subject: ApprovalSubject;
  stage: ApproverStage;
  /** Position of the stage in the chain (0-based) and the chain length. */
  stageIndex: number;
  stages: number;
  createdAt: number;
  expiresAt: number;
  /** Operators who already approved this stage. */
  approvedBy: string[];
}

export type ApprovalEvent =
  | { type: "pending"; approval: PendingApproval }
  | { type: "decided"; id: string; decision: StageDecision }
  | { type: "finished"; id: string; outcome: ApprovalOutcome };

/** An LLM judge: resolves allow/deny, or rejects (error / unparseable answer). */
export type LlmJudge = (subject: ApprovalSubject, stage: ApproverStage, signal: AbortSignal) => Promise<{ verdict: "allow" | "deny"; reason?: string; by: string }>;

export interface ApprovalsOptions {
  /** The clock (ms); injectable for tests. */
  now?: () => number;
  /** The LLM judge; absent ⇒ LLM stages fail per their fail mode. */
  llm?: LlmJudge;
}

interface Waiter {
  pending: PendingApproval;
  settle: (d: StageDecision) => void;
}

export class ApprovalsEngine {
  readonly #now: () => number;
  readonly #llm: LlmJudge | undefined;
  readonly #waiting = new Map<string, Waiter>();
  readonly #listeners = new Set<(e: ApprovalEvent) => void>();

  constructor(opts: ApprovalsOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#llm = opts.llm;
  }

  /** Human stages currently waiting for an operator, oldest first. */
  pending(): PendingApproval[] {
    return [...this.#waiting.values()].map((w) => ({ ...w.pending, approvedBy: [...w.pending.approvedBy] }));
  }

  /** Live events (for SSE and notifiers). Returns the unsubscribe function. */
  subscribe(listener: (e: ApprovalEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: ApprovalEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // A broken listener must not affect the approval.
      }
    }
  }

  /**
   * An operator's decision on a waiting human stage. Returns false when the
   * id is unknown or no longer waiting, or when the same operator approves
   * twice (quorum counts distinct people).
   */
  decide(id: string, verdict: "allow" | "deny", by: string, reason?: string): boolean {
    const w = this.#waiting.get(id);
    if (!w) return false;
    const at = this.#now();
    if (verdict === "deny") {
      w.settle({ stage: w.pending.stage.name, verdict: "deny", by, at, ...(reason !== undefined ? { reason } : {}) });
      return true;
    }
    if (w.pending.approvedBy.includes(by)) return false;
    w.pending.approvedBy.push(by);
    this.#emit({ type: "decided", id, decision: { stage: w.pending.stage.name, verdict: "allow", by, at } });
    if (w.pending.approvedBy.length >= w.pending.stage.requireApprovers) {
      w.settle({ stage: w.pending.stage.name, verdict: "allow", by: w.pending.approvedBy.join(","), at, ...(reason !== undefined ? { reason } : {}) });
    }
    return true;
  }

  /**
   * Runs a chain for one request. Resolves (never rejects) with the outcome;
   * `signal` aborting (the client disconnected) ends it as a cancelled deny.
   */
  async run(subject: ApprovalSubject, chain: readonly ApproverStage[], signal: AbortSignal): Promise<ApprovalOutcome> {
    const id = randomUUID();
    const decisions: StageDecision[] = [];
    let outcome: ApprovalOutcome;
    try {
      outcome = { verdict: "allow", reason: "approved", decisions };
      if (chain.length === 0) outcome = { verdict: "deny", reason: "approval chain is empty", decisions };
      for (let i = 0; i < chain.length; i++) {
        if (signal.aborted) {
          outcome = { verdict: "deny", reason: "client disconnected before approval", decisions, cancelled: true };
          break;
        }
        const stage = chain[i]!;
        const d = stage.kind === "human" ? await this.#human(id, subject, stage, i, chain.length, signal) : await this.#judge(subject, stage, signal);
        decisions.push(d);
        if (signal.aborted || d.by === "client") {
          outcome = { verdict: "deny", reason: "client disconnected before approval", decisions, cancelled: true };
          break;
        }
        if (d.verdict === "deny") {
          outcome = { verdict: "deny", reason: d.reason ?? `denied by approver "${stage.name}"`, decisions };
          break;
        }
      }
    } catch (e) {
      outcome = { verdict: "deny", reason: "approval failed; failing closed", decisions };
      void e;
    }
    this.#emit({ type: "finished", id, outcome });
    return outcome;
  }

  #human(id: string, subject: ApprovalSubject, stage: ApproverStage, index: number, stages: number, signal: AbortSignal): Promise<StageDecision> {
    const stageId = stages > 1 ? `${id}:${index}` : id;
    const createdAt = this.#now();
    const pending: PendingApproval = {
      id: stageId,
      subject,
      stage,
      stageIndex: index,
      stages,
      createdAt,
      expiresAt: createdAt + stage.timeoutMs,
      approvedBy: [],
    };
    return new Promise<StageDecision>((resolve) => {
      let done = false;
      const settle = (d: StageDecision) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#waiting.delete(stageId);
        if (d.by !== "client") this.#emit({ type: "decided", id: stageId, decision: d });
        resolve(d);
      };
      const timer = setTimeout(
        () =>
          settle({
            stage: stage.name,
            verdict: stage.onTimeout,
            by: "timeout",
            reason: `approver "${stage.name}" did not answer within ${Math.round(stage.timeoutMs / 1000)}s`,
            at: this.#now(),
          }),
        stage.timeoutMs,
      );
      const onAbort = () => settle({ stage: stage.name, verdict: "deny", by: "client", at: this.#now() });
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.set(stageId, { pending, settle });
      this.#emit({ type: "pending", approval: { ...pending, approvedBy: [] } });
      if (signal.aborted) onAbort();
    });
  }

  async #judge(subject: ApprovalSubject, stage: ApproverStage, signal: AbortSignal): Promise<StageDecision> {
    const failed = (why: string): StageDecision => ({
      stage: stage.name,
      verdict: stage.failMode === "open" ? "allow" : "deny",
      by: "llm-fail-mode",
      reason: `approver "${stage.name}" ${why}`,
      at: this.#now(),
    });
    if (!this.#llm) return failed("is not available");
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        this.#llm(subject, stage, ctl.signal),
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), stage.timeoutMs);
        }),
      ]);
      if (answer === "timeout") {
        ctl.abort();
        return failed(`did not answer within ${Math.round(stage.timeoutMs / 1000)}s`);
      }
      if (answer.verdict !== "allow" && answer.verdict !== "deny") return failed("gave an unusable answer");
      return { stage: stage.name, verdict: answer.verdict, by: answer.by, at: this.#now(), ...(answer.reason !== undefined ? { reason: answer.reason } : {}) };
    } catch {
      return failed("failed");
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** How long an LLM judge may take when nothing else is configured. */
export const DEFAULT_LLM_TIMEOUT_MS = 60_000;

/**
 * The effective stages of an `approve = [...]` chain: per-approver settings
 * where the block sets them, the `defaults {}` block otherwise.
 */
export function stagesFor(approvers: readonly ApproverDecl[], defaults: Defaults): ApproverStage[] {
  return approvers.map((a) => {
    const f = a.block.fields;
    if (a.spec.type === "llm_approver") {
      return {
        name: a.name,
        kind: "llm",
        timeoutMs: DEFAULT_LLM_TIMEOUT_MS,
        onTimeout: "deny",
        requireApprovers: 1,
        failMode: defaults.llmFailMode,
      };
    }
    const timeout = typeof f.timeout === "number" && f.timeout > 0 ? f.timeout : defaults.humanTimeout;
    const quorum = typeof f.require_approvers === "number" && f.require_approvers > 1 ? f.require_approvers : 1;
    return {
      name: a.name,
      kind: "human",
      timeoutMs: timeout * 1000,
      onTimeout: defaults.humanOnTimeout,
      requireApprovers: quorum,
      failMode: "closed",
    };
  });
}

/** What a protocol runtime shows approvers about a parked request (the rule and its reason come from the decision). */
export type ApprovalRequest = Omit<ApprovalSubject, "rule" | "reason">;

/** How a decision's approval chain ended. */
export interface ChainOutcome {
  allow: boolean;
  /** The chain's reason (the approvers' words, or why it failed). */
  reason: string;
  decisions: StageDecision[];
  /** The client went away before a final allow. */
  cancelled: boolean;
  /** The chain could not run at all (unresolvable approvers, engine error). */
  failClosed: boolean;
}

/**
 * Runs the approver chain of the rule behind an `approve` decision — the
 * one path every protocol runtime uses, so all of them fail the same way:
 * an approver list that does not match the decision, an engine error or a
 * lost client is a deny; only an explicit allow lets the request through.
 */
export async function runApprovalChain(
  engine: { run(subject: ApprovalSubject, chain: readonly ApproverStage[], signal: AbortSignal): Promise<ApprovalOutcome> },
  policy: CompiledPolicy,
  decision: Decision,
  request: ApprovalRequest,
  signal: AbortSignal,
): Promise<ChainOutcome> {
  const rule = policy.config.rules.find((r) => r.name === decision.rule);
  const decls = rule?.approve ?? [];
  if (decls.length === 0 || decls.length !== (decision.approvers?.length ?? 0)) {
    return { allow: false, reason: "approval chain could not be resolved; failing closed", decisions: [], cancelled: false, failClosed: true };
  }
  const subject: ApprovalSubject = {
    ...request,
    rule: decision.rule ?? "",
    ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
  };
  try {
    const out = await engine.run(subject, stagesFor(decls, policy.defaults), signal);
    const cancelled = out.cancelled === true || signal.aborted;
    return { allow: out.verdict === "allow" && !cancelled, reason: out.reason, decisions: out.decisions, cancelled, failClosed: false };
  } catch {
    return { allow: false, reason: "approval failed; failing closed", decisions: [], cancelled: signal.aborted, failClosed: true };
  }
}
