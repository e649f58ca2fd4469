/**
 * `credential "notion_oauth"`: A Notion integration token (OAuth or internal), injected as a bearer on
 * api.notion.com.
 *
 * Notion rejects requests without a `Notion-Version` header; the agent's
 * own is kept (it knows which API shape it speaks) and
 * {@link NOTION_DEFAULT_VERSION} is added only when it sent none.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { bearerInjector } from "./http.js";

/** The long-stable Notion API version sent when the agent names none. */
export const NOTION_DEFAULT_VERSION = "2022-06-28";

/** The spec of `credential "notion_oauth"`; registered in ../registry.ts. */
export const notionOauthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "notion_oauth",
  doc: "A Notion workspace integration (OAuth on the dashboard, or an internal integration token), injected as a bearer.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  http: bearerInjector("The integration token (ntn_... / secret_...), pasted or stored by the OAuth flow.", (req) => {
    if (!req.header("notion-version")) req.setHeader("Notion-Version", NOTION_DEFAULT_VERSION);
  }),
};
