/**
 * `credential "gemini_api_key"`: A Google AI Studio / Gemini API key, sent as `x-goog-api-key`.
 *
 * Google accepts the key in that header or in a `?key=` query parameter.
 * The header is always set; a `key` parameter the agent put in the URL
 * (curl-style examples do) gets the real key too, percent-encoded, so the
 * placeholder never reaches Google as a competing key. A URL without one
 * is left alone: the header suffices and keeps the key out of URLs.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { percentEncodeStrict, primarySlot, readPrimary } from "./http.js";

/** The spec of `credential "gemini_api_key"`; registered in ../registry.ts. */
export const geminiApiKeyCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "gemini_api_key",
  doc:
    "A Gemini API key, injected as the `x-goog-api-key` header, and into a `key=` query parameter when the agent's URL " +
    "has one. Agents get `GOOGLE_API_KEY` / `GEMINI_API_KEY` placeholders.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  http: {
    slots: primarySlot("The API key (AIza...)."),
    inject(req, ctx) {
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      req.setHeader("x-goog-api-key", s.value);
      req.replaceQueryParam("key", percentEncodeStrict(s.value));
      return { ok: true, injected: [s.value] };
    },
  },
};
