/**
 * `credential "discord_bot_token"`: A Discord bot token, injected into REST calls and the Gateway
 * websocket's identify payload.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "discord_bot_token"`; registered in ../registry.ts. */
export const discordBotTokenCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "discord_bot_token",
  doc: "A Discord bot token for REST and Gateway (websocket) traffic.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
