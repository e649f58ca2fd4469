/**
 * `credential "basic_auth"`: HTTP Basic authentication. The username is
 * configuration; the password is the secret.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";
import { isHeaderSafe, primarySlot, readPrimary } from "./http.js";

/** The spec of `credential "basic_auth"`; registered in ../registry.ts. */
export const basicAuthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "basic_auth",
  doc:
    "HTTP Basic auth: injects `Authorization: Basic base64(username:password)` with the password from the secret store. " +
    "For placeholder dispatch the agent puts the placeholder where the password goes.",
  discriminators: ["placeholder"],
  fields: {
    username: { type: "string", required: true, doc: "The upstream user name." },
    ...CREDENTIAL_COMMON_FIELDS,
  },
  validate(b, ctx) {
    const user = getString(b, "username");
    if (user === undefined || !user.includes(":")) return [];
    return [
      ctx.error(
        `Invalid username on basic_auth credential ${goQuote(b.name)}`,
        `username = ${goQuote(user)}: HTTP Basic user names cannot contain ":".`,
        rangeOf(b, "username"),
      ),
    ];
  },
  http: {
    slots: primarySlot("The password."),
    inject(req, ctx) {
      const user = getString(ctx.block, "username");
      if (user === undefined || user.includes(":") || !isHeaderSafe(user)) {
        return { ok: false, error: "basic_auth has no usable `username`" };
      }
      // The password travels base64-encoded, so any byte is fine in it.
      const s = readPrimary(ctx.secret, false);
      if (!s.ok) return s;
      const pair = `${user}:${s.value}`;
      req.setHeader("Authorization", "Basic " + Buffer.from(pair, "utf8").toString("base64"));
      // The pair (and, through the redactor's encodings, its base64) is what an upstream could echo.
      return { ok: true, injected: [s.value, pair] };
    },
  },
};
