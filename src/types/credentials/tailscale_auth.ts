/**
 * `credential "tailscale_auth"` (older name: `tailscale`): the node
 * identity of a `tunnel "tailscale"`, kept in the gateway's secret store.
 * Nothing is pasted — the first start shows a sign-in link on the
 * dashboard; per-tailnet settings live on the tunnel block.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "tailscale_auth"` / `"tailscale"`; registered in ../registry.ts. */
export const tailscaleAuthCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "tailscale_auth",
  aliases: ["tailscale"],
  doc:
    "The tailnet identity of a `tailscale` tunnel, stored by the gateway after an interactive sign-in from the " +
    "dashboard. Bind it with the tunnel's `credential` field.",
  discriminators: [],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
