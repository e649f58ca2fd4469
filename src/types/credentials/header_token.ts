/**
 * `credential "header_token"`: a secret written into a header of the
 * operator's choosing, optionally behind a fixed prefix — for APIs that
 * want `x-api-key: <secret>` or `Authorization: Token token=<secret>`.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";

/** RFC 9110 token characters: what a header name may contain. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The spec of `credential "header_token"`; registered in ../registry.ts. */
export const headerTokenCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "header_token",
  doc: "A secret injected into a named header, replacing the agent's value of that header.",
  discriminators: ["placeholder"],
  fields: {
    header: { type: "string", required: true, doc: 'Name of the header that receives the secret (e.g. "x-honeycomb-team").' },
    prefix: { type: "string", doc: 'Text put before the secret in the header value (e.g. "Token token=" or "Bearer ").' },
    ...CREDENTIAL_COMMON_FIELDS,
  },
  validate(b, ctx) {
    const header = getString(b, "header");
    if (header === undefined || HEADER_NAME.test(header)) return [];
    return [
      ctx.error(
        `Invalid header name on header_token credential ${goQuote(b.name)}`,
        `header = ${goQuote(header)}: a header name is one or more letters, digits or !#$%&'*+.^_\`|~- characters.`,
        rangeOf(b, "header"),
      ),
    ];
  },
};
