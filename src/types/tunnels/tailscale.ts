/**
 * `tunnel "tailscale"`: an embedded Tailscale node joins a tailnet
 * in-process and every dial goes through it, so MagicDNS names and
 * tailnet IPs resolve. Auth: a bound `tailscale_auth` credential
 * (interactive sign-in), an `authkey`, or an OAuth client secret.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import { warning } from "../../config/diagnostics.js";
import type { TunnelTypeSpec } from "../schema.js";
import { TUNNEL_COMMON_FIELDS, getString, getStrings, isSet, rangeOf, validateTunnelCommon } from "../common.js";
import { checkHttpUrl, goQuote } from "../formats.js";

/** The spec of `tunnel "tailscale"`; registered in ../registry.ts. */
export const tailscaleTunnel: TunnelTypeSpec = {
  kind: "tunnel",
  type: "tailscale",
  doc:
    "Dials through an embedded Tailscale node. Without a credential or key in the config, the key is read from " +
    "`CLAWPATROL_TUNNEL_<NAME>_AUTHKEY` / `_OAUTH_CLIENT_SECRET`.",
  fields: {
    authkey: { type: "string", secretTemplate: true, doc: "A Tailscale auth key for the node. `{{secret:NAME}}` keeps it out of the file." },
    oauth_client_secret: {
      type: "string",
      secretTemplate: true,
      doc: "A Tailscale OAuth client secret (tskey-client-…): a fresh short-lived key is minted on every join. Needs `tags`.",
    },
    control_url: { type: "string", doc: "Control server URL (e.g. a Headscale server). Unset: Tailscale's." },
    hostname: { type: "string", doc: "Node name on the tailnet. Default: clawpatrol-tunnel-<name>." },
    state_dir: { type: "string", doc: "Where the node keeps its state. Default: under the gateway's state_dir." },
    tags: { type: "list<string>", doc: 'ACL tags the node requests ("tag:clawpatrol").' },
    ...TUNNEL_COMMON_FIELDS,
    share: { ...TUNNEL_COMMON_FIELDS["share"]!, default: "singleton" },
  },
  validate(b, ctx) {
    const out: Diagnostic[] = [];
    const tags = getStrings(b, "tags") ?? [];
    if (isSet(b, "oauth_client_secret") && tags.length === 0) {
      out.push(
        warning(
          `oauth_client_secret without tags on tailscale tunnel ${goQuote(b.name)}`,
          "Tailscale rejects auth keys minted from an OAuth client without tags; set `tags = [\"tag:...\"]`.",
          rangeOf(b, "oauth_client_secret"),
        ),
      );
    }
    for (const tag of tags) {
      if (!/^tag:[A-Za-z0-9][A-Za-z0-9-]*$/.test(tag)) {
        out.push(ctx.error(`Invalid tag on tailscale tunnel ${goQuote(b.name)}`, `${goQuote(tag)}: tags look like "tag:name".`, rangeOf(b, "tags")));
      }
    }
    const url = getString(b, "control_url");
    if (url !== undefined) {
      const err = checkHttpUrl(url);
      if (err) out.push(ctx.error(`Invalid control_url on tailscale tunnel ${goQuote(b.name)}`, `control_url = ${goQuote(url)}: ${err}.`, rangeOf(b, "control_url")));
    }
    out.push(...validateTunnelCommon(b, ctx));
    return out;
  },
};
