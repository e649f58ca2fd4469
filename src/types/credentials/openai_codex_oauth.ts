/**
 * `credential "openai_codex_oauth"`: A ChatGPT subscription signed in through OAuth, as the `codex` CLI uses
 * it; works on `https` and `openai_codex_https` endpoints.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "openai_codex_oauth"`; registered in ../registry.ts. */
export const openaiCodexOauthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "openai_codex_oauth",
  doc: "A ChatGPT/Codex subscription (OAuth on the dashboard), injected into api.openai.com and chatgpt.com traffic.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
