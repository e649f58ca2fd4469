/** Pending approvals and operators' decisions on them (the decider's username is recorded). */
import type { PendingApproval } from "../../gateway/approvals.js";
import type { DecideResult, PendingApprovalInfo } from "../api.js";
import { bodyOf, json, who, type HandlerTable } from "../context.js";
import { HttpError, optionalString } from "../http.js";

export function pendingInfo(p: PendingApproval): PendingApprovalInfo {
  const s = p.subject;
  return {
    id: p.id,
    endpoint: s.endpoint,
    rule: s.rule,
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    ...(s.device !== undefined ? { device: s.device } : {}),
    ...(s.profile !== undefined ? { profile: s.profile } : {}),
    summary: s.summary,
    ...(s.facets !== undefined ? { facets: s.facets } : {}),
    stage: p.stage.name,
    stageIndex: p.stageIndex,
    stages: p.stages,
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    approvedBy: [...p.approvedBy],
  };
}

export const approvalRoutes: HandlerTable = {
  "GET /api/approvals": (ctx) => json(ctx, ctx.deps.approvals.pending().map(pendingInfo)),

  "POST /api/approvals/:id": async (ctx) => {
    const p = who(ctx);
    const body = await bodyOf(ctx);
    const verdict = body.verdict;
    if (verdict !== "allow" && verdict !== "deny") throw new HttpError(400, '"verdict" must be "allow" or "deny"');
    const reason = optionalString(body, "reason", 1000);
    const id = ctx.params.id!;
    const waiting = ctx.deps.approvals.pending().find((a) => a.id === id);
    if (!waiting) throw new HttpError(404, "no such pending approval (decided, timed out, or the client went away)");
    if (!ctx.deps.approvals.decide(id, verdict, p.username, reason)) {
      throw new HttpError(409, waiting.approvedBy.includes(p.username) ? "you already approved this; another approver must" : "the approval is no longer pending");
    }
    ctx.deps.log.info("approval decided", { id, verdict, by: p.username, endpoint: waiting.subject.endpoint, rule: waiting.subject.rule });
    json(ctx, { ok: true, pending: ctx.deps.approvals.pending().map(pendingInfo) } satisfies DecideResult);
  },
};
