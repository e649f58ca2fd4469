/**
 * `credential "telegram_bot_token"`: A Telegram bot token. Telegram carries the token in the URL path
 * (/bot<token>/...), which the gateway rewrites.
 *
 * The segment after `/bot` (API calls) or `/file/bot` (file downloads),
 * up to the next `/`, is replaced with the real token whatever it held.
 * A path without such a segment gets nothing and is reported, so the
 * request goes upstream unauthenticated rather than with a guessed edit.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { primarySlot, readPrimary } from "./http.js";

const TOKEN_SEGMENT = /^(\/(?:file\/)?bot)([^/]*)/;

/** Percent-encodes what may not stand in a path segment (RFC 3986 pchar); Telegram's `:` stays. */
function pathSegment(s: string): string {
  return [...Buffer.from(s, "utf8")]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-._~!$&'()*+,;=:@]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
    })
    .join("");
}

/** The spec of `credential "telegram_bot_token"`; registered in ../registry.ts. */
export const telegramBotTokenCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "telegram_bot_token",
  doc: "A Telegram bot token, substituted into the `/bot<token>/` URL path segment.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  http: {
    slots: primarySlot("The bot token (123456:ABC...)."),
    inject(req, ctx) {
      const m = TOKEN_SEGMENT.exec(req.path);
      if (!m) return { ok: false, error: "request path has no /bot<token>/ segment" };
      const s = readPrimary(ctx.secret, false);
      if (!s.ok) return s;
      const encoded = pathSegment(s.value);
      req.path = m[1] + encoded + req.path.slice(m[0].length);
      return { ok: true, injected: encoded === s.value ? [s.value] : [s.value, encoded] };
    },
  },
};
