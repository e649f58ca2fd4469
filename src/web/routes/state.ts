/** `GET /api/state`: what the overview page shows. */
import type { GatewayState } from "../api.js";
import { json, type HandlerTable } from "../context.js";
import { readConfigText } from "../config-text.js";
import { configWritesEnabled } from "./config.js";

export const stateRoutes: HandlerTable = {
  "GET /api/state": (ctx) => {
    const { deps } = ctx;
    const policy = deps.policy();
    const cfg = readConfigText(deps.configPath);
    const body: GatewayState = {
      version: deps.version,
      startedAt: deps.startedAt,
      ca: { fingerprint256: deps.ca.fingerprint256, subject: deps.ca.subject },
      listeners: deps.listeners(),
      configPath: deps.configPath,
      configRevision: cfg.revision,
      configWrites: configWritesEnabled(deps) && !cfg.directory,
      counts: {
        endpoints: policy.endpoints.size,
        rules: policy.config.rules.length,
        profiles: policy.profiles.size,
        credentials: policy.config.credentials.length,
        pendingApprovals: deps.approvals.pending().length,
        actions: deps.store.stats.actionCount(),
      },
    };
    json(ctx, body);
  },
};
