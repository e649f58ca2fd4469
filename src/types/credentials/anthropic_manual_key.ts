/**
 * `credential "anthropic_manual_key"`: an Anthropic API key (sk-ant-...), sent as `x-api-key`. Also what an
 * `llm_approver` uses to call Claude.
 *
 * Injection also removes any `Authorization` header the agent sent.
 * Anthropic's API has two auth mechanisms — `x-api-key` for Console keys,
 * an OAuth bearer for subscriptions — and a bearer alongside the key
 * would compete with it: the request could authenticate as something
 * other than the credential the policy decided about (or fail on the
 * placeholder). Anything the agent holds is a placeholder anyway.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { primarySlot, readPrimary } from "./http.js";

/** The spec of `credential "anthropic_manual_key"`; registered in ../registry.ts. */
export const anthropicManualKeyCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "anthropic_manual_key",
  doc: "An Anthropic Console API key, injected as the `x-api-key` header. The key itself lives in the secret store.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  http: {
    slots: primarySlot("The API key (sk-ant-api...)."),
    inject(req, ctx) {
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      req.setHeader("x-api-key", s.value);
      req.removeHeader("authorization");
      return { ok: true, injected: [s.value] };
    },
  },
};
