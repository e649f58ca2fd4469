/**
 * `credential "bearer_token"`: the generic `Authorization: Bearer <secret>`
 * credential, for any API that takes an opaque token.
 *
 * With `idempotency_key = true` it also stamps an `Idempotency-Key` on
 * writes the agent sent without one (Stripe-style APIs), so an agent that
 * blindly retries a timed-out POST does not charge twice. The key is
 * derived from the request (see {@link deriveIdempotencyKey}); it is
 * skipped when the body was too large to buffer, because a key over a
 * prefix would make two different large writes look like one.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getBool } from "../common.js";
import { deriveIdempotencyKey, primarySlot, readPrimary, setBearer } from "./http.js";

/** Methods that never change server state (RFC 9110 §9.2.1): no idempotency key. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

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
  http: {
    slots: primarySlot("The token."),
    inject(req, ctx) {
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      setBearer(req, s.value);
      const write = !SAFE_METHODS.has(req.method.toUpperCase());
      if (getBool(ctx.block, "idempotency_key") === true && write && !req.bodyTruncated && !req.header("idempotency-key")) {
        req.setHeader("Idempotency-Key", deriveIdempotencyKey(ctx.block.name, req));
      }
      return { ok: true, injected: [s.value] };
    },
  },
};
