/** The dashboard session lifetime: `gateway.dashboard_session_ttl` of the policy in force (default 24h). */
import { parseDuration } from "../types/formats.js";
import type { WebDeps } from "./deps.js";

export const DEFAULT_SESSION_TTL_MS = 24 * 3600_000;

export function sessionTtlOf(deps: Pick<WebDeps, "policy">): number {
  const v = deps.policy().config.gateway?.fields.dashboard_session_ttl;
  if (typeof v !== "string" || v === "") return DEFAULT_SESSION_TTL_MS;
  const d = parseDuration(v);
  return d.ok && d.value > 0 ? d.value : DEFAULT_SESSION_TTL_MS;
}
