/**
 * `credential "anthropic_manual_key"`: an Anthropic API key (sk-ant-...), sent as `x-api-key`. Also what an
 * `llm_approver` uses to call Claude.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "anthropic_manual_key"`; registered in ../registry.ts. */
export const anthropicManualKeyCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "anthropic_manual_key",
  doc: "An Anthropic Console API key, injected as the `x-api-key` header. The key itself lives in the secret store.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
