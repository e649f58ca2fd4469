/**
 * `credential "github_oauth"`: A GitHub token obtained through the dashboard's OAuth/device flow (or
 * pasted), sent as a bearer; agents get `GH_TOKEN` / `GITHUB_TOKEN`
 * placeholders.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "github_oauth"`; registered in ../registry.ts. */
export const githubOauthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "github_oauth",
  doc: "A GitHub user token (OAuth device flow on the dashboard, or a pasted PAT), injected as `Authorization: Bearer`.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
