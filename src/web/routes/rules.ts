/** Rules as configured, with hit counts and last hit from the audit log. */
import { formatPos } from "../../config/diagnostics.js";
import type { RuleInfo } from "../api.js";
import { json, type HandlerTable } from "../context.js";

export const ruleRoutes: HandlerTable = {
  "GET /api/rules": (ctx) => {
    const hits = new Map(ctx.deps.store.stats.ruleHits().map((h) => [h.rule, h]));
    const out: RuleInfo[] = ctx.deps.policy().config.rules.map((r) => {
      const h = hits.get(r.name);
      return {
        name: r.name,
        endpoints: r.endpoints.map((e) => `${e.type}.${e.name}`),
        verdict: r.approve.length > 0 ? "approve" : (r.verdict ?? "allow"),
        condition: r.condition,
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
        priority: r.priority,
        disabled: r.disabled,
        location: formatPos(r.defRange),
        hits: h?.hits ?? 0,
        lastHit: h?.lastHit ?? null,
      };
    });
    json(ctx, out);
  },
};
