/**
 * `credential "passthrough"`: A credential that injects nothing. It exists so endpoints needing no
 * auth (public APIs, already-authenticated tunnels) can still be claimed
 * by a profile through the usual credential → endpoint binding; rules
 * still apply.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "passthrough"`; registered in ../registry.ts. */
export const passthroughCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "passthrough",
  doc: "Injects nothing: requests are forwarded as the agent sent them. Lets a profile claim endpoints that need no credential while their rules still apply.",
  discriminators: [],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
