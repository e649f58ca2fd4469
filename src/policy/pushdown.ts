/**
 * Credential placeholders pushed into an enrolled device's environment
 * (`clawpatrol run`, `clawpatrol env`): for each credential of a profile
 * that a placeholder selects, the variable a standard client reads that
 * placeholder from. Only placeholders — the gateway swaps in the real
 * secret upstream; a real secret is never part of this.
 *
 * Well-known variables by credential type (first binding wins); every
 * placeholder is also exported as `CLAWPATROL_PLACEHOLDER_<CREDENTIAL>`.
 */
import type { CompiledPolicy } from "./compiled.js";

const WELL_KNOWN: Readonly<Record<string, readonly string[]>> = {
  postgres_credential: ["PGPASSWORD"],
  anthropic_manual_key: ["ANTHROPIC_API_KEY"],
  gemini_api_key: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
  github_oauth: ["GITHUB_TOKEN", "GH_TOKEN"],
  slack_tokens: ["SLACK_BOT_TOKEN"],
  discord_bot_token: ["DISCORD_BOT_TOKEN"],
  telegram_bot_token: ["TELEGRAM_BOT_TOKEN"],
};

const varName = (credential: string): string => `CLAWPATROL_PLACEHOLDER_${credential.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`;

/** The placeholder environment of `profile` (empty for an unknown profile). */
export function placeholderEnv(policy: CompiledPolicy, profile: string): Record<string, string> {
  const p = policy.profiles.get(profile);
  const env: Record<string, string> = {};
  if (!p) return env;
  for (const entries of p.dispatch.values()) {
    for (const e of entries) {
      const ph = e.discriminators.placeholder;
      if (typeof ph !== "string" || ph === "") continue;
      env[varName(e.credential)] ??= ph;
      for (const v of WELL_KNOWN[e.credentialType] ?? []) env[v] ??= ph;
      if (e.credentialType === "postgres_credential" && typeof e.discriminators.user === "string") env.PGUSER ??= e.discriminators.user;
    }
  }
  return env;
}
