/**
 * `credential "anthropic_oauth_subscription"`: A Claude Pro/Max subscription signed in through OAuth on the dashboard;
 * the gateway refreshes the token and sends it as a bearer.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "anthropic_oauth_subscription"`; registered in ../registry.ts. */
export const anthropicOauthSubscriptionCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "anthropic_oauth_subscription",
  doc: "A Claude subscription (OAuth). The dashboard runs the sign-in; the gateway keeps the token fresh and injects it.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
