/**
 * `credential "github_oauth"`: A GitHub token obtained through the dashboard's OAuth/device flow (or
 * pasted), sent as a bearer; agents get `GH_TOKEN` / `GITHUB_TOKEN`
 * placeholders.
 *
 * One exception to "always a bearer": git's smart-HTTP client on
 * github.com authenticates with Basic (the token as the password). When
 * the agent sent `Authorization: Basic ...`, the gateway keeps the scheme
 * and sends `Basic base64("x-access-token:<token>")`, which GitHub accepts
 * for every token kind — so `git clone` / `git push` work through the
 * gateway as well as the REST API and `gh`.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { primarySlot, readPrimary, setBearer } from "./http.js";

/** The user name GitHub documents for token-as-password Basic auth. */
const GIT_BASIC_USER = "x-access-token";

/** The spec of `credential "github_oauth"`; registered in ../registry.ts. */
export const githubOauthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "github_oauth",
  doc: "A GitHub user token (OAuth device flow on the dashboard, or a pasted PAT), injected as `Authorization: Bearer`.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  http: {
    slots: primarySlot("The token (gho_..., ghp_..., github_pat_...), pasted or stored by the OAuth flow."),
    inject(req, ctx) {
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      if (/^basic\s/i.test(req.header("authorization") ?? "")) {
        const pair = `${GIT_BASIC_USER}:${s.value}`;
        req.setHeader("Authorization", "Basic " + Buffer.from(pair, "utf8").toString("base64"));
        return { ok: true, injected: [s.value, pair] };
      }
      setBearer(req, s.value);
      return { ok: true, injected: [s.value] };
    },
  },
};
