/**
 * `credential "slack_tokens"`: A Slack bot/user token set (plus signing secret for interactive
 * approvals). Injected into Slack API calls, and used by `human_approver`
 * to post approval requests.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "slack_tokens"`; registered in ../registry.ts. */
export const slackTokensCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "slack_tokens",
  doc: "Slack tokens (bot token, optional user token and signing secret). Injected into Slack API calls; a `human_approver` posts approval requests with it.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
