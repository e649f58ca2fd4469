/**
 * `credential "bearer_token"`: the generic `Authorization: Bearer <secret>`
 * credential, for any API that takes an opaque token.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "bearer_token"`; registered in ../registry.ts. */
export const bearerTokenCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "bearer_token",
  doc: "An opaque token injected as `Authorization: Bearer <secret>`, replacing whatever the agent sent there.",
  discriminators: ["placeholder"],
  fields: {
    idempotency_key: {
      type: "bool",
      default: false,
      doc:
        "Also stamp an `Idempotency-Key` header on non-GET/HEAD requests that lack one (Stripe-style APIs), derived from " +
        "the request so an agent's retry of the same call is not applied twice.",
    },
    ...CREDENTIAL_COMMON_FIELDS,
  },
};
