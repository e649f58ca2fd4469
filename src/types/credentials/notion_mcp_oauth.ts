/**
 * `credential "notion_mcp_oauth"`: OAuth for Notion's hosted MCP server (mcp.notion.com), obtained on the
 * dashboard and injected as a bearer.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "notion_mcp_oauth"`; registered in ../registry.ts. */
export const notionMcpOauthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "notion_mcp_oauth",
  doc: "OAuth access to Notion's hosted MCP server, signed in on the dashboard and injected as a bearer token.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
