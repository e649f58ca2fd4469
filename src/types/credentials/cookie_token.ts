/**
 * `credential "cookie_token"`: a session secret sent as a cookie, for web
 * backends that authenticate by cookie rather than by header.
 *
 * Injection rewrites only the named cookie: every other cookie the agent
 * sent (CSRF tokens, preferences) goes upstream byte for byte, in order.
 * Several `Cookie` header lines (HTTP/2 splits them) are joined into one
 * with "; ", as RFC 9113 §8.2.3 prescribes for forwarding over HTTP/1.1.
 */
import { warning } from "../../config/diagnostics.js";
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";
import type { OutboundHttpRequest } from "./http.js";
import { primarySlot, readPrimary } from "./http.js";

/** RFC 6265 cookie-name characters (a token). */
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Sets cookie `name` to `value` in the request, keeping every other cookie.
 * The cookie takes the place of the agent's first cookie of that name, or
 * goes last when the agent sent none.
 */
export function setCookie(req: OutboundHttpRequest, name: string, value: string): void {
  const lines = req.headerValues("cookie");
  const pairs = lines.flatMap((l) => l.split(";")).map((p) => p.trim()).filter((p) => p !== "");
  const mine = `${name}=${value}`;
  let placed = false;
  const out: string[] = [];
  for (const p of pairs) {
    const eq = p.indexOf("=");
    const n = (eq < 0 ? p : p.slice(0, eq)).trim();
    if (n !== name) out.push(p);
    else if (!placed) {
      out.push(mine);
      placed = true;
    }
  }
  if (!placed) out.push(mine);
  req.setHeader("Cookie", out.join("; "));
}

/** The spec of `credential "cookie_token"`; registered in ../registry.ts. */
export const cookieTokenCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "cookie_token",
  doc: "A secret injected as a cookie (`Cookie: <cookie_name>=<secret>`).",
  discriminators: ["placeholder"],
  fields: {
    cookie_name: { type: "string", doc: "Name of the cookie that carries the secret. Without it nothing is injected." },
    ...CREDENTIAL_COMMON_FIELDS,
  },
  validate(b, ctx) {
    const name = getString(b, "cookie_name");
    if (name === undefined) {
      return [
        warning(
          `cookie_token credential ${goQuote(b.name)} has no cookie_name`,
          "Without cookie_name the credential injects nothing; set the name of the session cookie the upstream expects.",
          b.defRange,
        ),
      ];
    }
    if (COOKIE_NAME.test(name)) return [];
    return [
      ctx.error(
        `Invalid cookie_name on cookie_token credential ${goQuote(b.name)}`,
        `cookie_name = ${goQuote(name)}: a cookie name is one or more letters, digits or !#$%&'*+.^_\`|~- characters.`,
        rangeOf(b, "cookie_name"),
      ),
    ];
  },
  http: {
    slots: primarySlot("The cookie value."),
    inject(req, ctx) {
      const name = getString(ctx.block, "cookie_name");
      if (name === undefined || !COOKIE_NAME.test(name)) return { ok: false, error: "cookie_token has no valid `cookie_name`; nothing injected" };
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      // A ";" would end the cookie early and smuggle the rest in as another cookie.
      if (s.value.includes(";")) return { ok: false, error: 'secret slot "secret" contains ";" and cannot be a cookie value' };
      setCookie(req, name, s.value);
      return { ok: true, injected: [s.value] };
    },
  },
};
