/**
 * `credential "cookie_token"`: a session secret sent as a cookie, for web
 * backends that authenticate by cookie rather than by header.
 */
import { warning } from "../../config/diagnostics.js";
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";

/** RFC 6265 cookie-name characters (a token). */
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

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
};
