/**
 * `credential "header_token"`: a secret written into a header of the
 * operator's choosing, optionally behind a fixed prefix — for APIs that
 * want `x-api-key: <secret>` or `Authorization: Token token=<secret>`.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";
import { isHeaderSafe, primarySlot, readPrimary } from "./http.js";

/** RFC 9110 token characters: what a header name may contain. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers that frame or route the request: a secret there would corrupt
 * the exchange rather than authenticate it, so injection refuses them.
 */
const FRAMING_HEADERS = new Set([
  "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
]);

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
  http: {
    slots: primarySlot("The secret written after `prefix` into `header`."),
    inject(req, ctx) {
      const header = getString(ctx.block, "header");
      // The loader enforces both; re-checked so a hand-built block cannot inject a header line.
      if (header === undefined || !HEADER_NAME.test(header)) return { ok: false, error: "header_token has no valid `header` name" };
      if (FRAMING_HEADERS.has(header.toLowerCase())) return { ok: false, error: `header_token refuses to write into ${header}` };
      const prefix = getString(ctx.block, "prefix") ?? "";
      if (!isHeaderSafe(prefix)) return { ok: false, error: "header_token `prefix` contains characters a header cannot carry" };
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      req.setHeader(header, prefix + s.value);
      return { ok: true, injected: [s.value] };
    },
  },
};
