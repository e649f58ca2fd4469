/**
 * `credential "mtls_credential"`: A client certificate and key (and optional CA) presented on the upstream
 * TLS handshake, e.g. to a self-hosted Kubernetes API server.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "mtls_credential"`; registered in ../registry.ts. */
export const mtlsCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "mtls_credential",
  doc: "A TLS client certificate + key (+ optional CA bundle) presented to the upstream. Nothing is sent in headers, so it has no placeholder.",
  discriminators: [],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
