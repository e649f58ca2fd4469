/**
 * `credential "notion_oauth"`: A Notion integration token (OAuth or internal), injected as a bearer on
 * api.notion.com.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "notion_oauth"`; registered in ../registry.ts. */
export const notionOauthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "notion_oauth",
  doc: "A Notion workspace integration (OAuth on the dashboard, or an internal integration token), injected as a bearer.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
