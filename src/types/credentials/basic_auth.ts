/**
 * `credential "basic_auth"`: HTTP Basic authentication. The username is
 * configuration; the password is the secret.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS, getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";

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
};
