/**
 * `credential "gemini_api_key"`: A Google AI Studio / Gemini API key, sent as `x-goog-api-key`; any
 * `?key=` the agent put in the URL is removed.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "gemini_api_key"`; registered in ../registry.ts. */
export const geminiApiKeyCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "gemini_api_key",
  doc: "A Gemini API key, injected as the `x-goog-api-key` header (never in the URL). Agents get `GOOGLE_API_KEY` / `GEMINI_API_KEY` placeholders.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
