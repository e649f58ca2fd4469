/**
 * `credential "telegram_bot_token"`: A Telegram bot token. Telegram carries the token in the URL path
 * (/bot<token>/...), which the gateway rewrites.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "telegram_bot_token"`; registered in ../registry.ts. */
export const telegramBotTokenCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "telegram_bot_token",
  doc: "A Telegram bot token, substituted into the `/bot<token>/` URL path segment.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
