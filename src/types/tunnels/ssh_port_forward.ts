/**
 * `tunnel "ssh_port_forward"`: one SSH session to a bastion; every dial is
 * a forwarded channel through it (`ssh -L` semantics, in-process), so the
 * upstream is resolved and reached from the bastion's network.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import type { TunnelTypeSpec } from "../schema.js";
import { TUNNEL_COMMON_FIELDS, getRef, getString, rangeOf, validateTunnelCommon } from "../common.js";
import { checkListenAddress, goQuote } from "../formats.js";

/** Credential types that can log in to a bastion. */
const SSH_CREDENTIAL_TYPES = ["ssh_key", "ssh"];

/** The spec of `tunnel "ssh_port_forward"`; registered in ../registry.ts. */
export const sshPortForwardTunnel: TunnelTypeSpec = {
  kind: "tunnel",
  type: "ssh_port_forward",
  doc:
    "Forwards connections through an SSH bastion. The bastion itself may sit behind another tunnel (`via`), e.g. an " +
    "SSH server pod reached with `kubernetes_port_forward`.",
  fields: {
    bastion: { type: "string", doc: 'The bastion as "host:port". Required unless `via` supplies the connection.' },
    user: { type: "string", required: true, doc: "The user name to log in to the bastion as." },
    ...TUNNEL_COMMON_FIELDS,
    credential: {
      type: { ref: "credential" },
      required: true,
      doc: "The `ssh_key` credential that logs in to the bastion (key or password, optional host-key pin).",
    },
    share: { ...TUNNEL_COMMON_FIELDS["share"]!, default: "singleton" },
  },
  validate(b, ctx) {
    const out: Diagnostic[] = [];
    const bastion = getString(b, "bastion");
    if (bastion === undefined && !getRef(b, "via")) {
      out.push(
        ctx.error(
          `Missing bastion on ssh_port_forward tunnel ${goQuote(b.name)}`,
          'Set `bastion = "host:22"`, or `via = <tunnel>` when another tunnel reaches the bastion.',
          b.defRange,
        ),
      );
    } else if (bastion !== undefined) {
      const err = checkListenAddress(bastion);
      if (err || bastion.startsWith(":")) {
        out.push(
          ctx.error(`Invalid bastion on ssh_port_forward tunnel ${goQuote(b.name)}`, `bastion = ${goQuote(bastion)}: ${err ?? "missing host"}. Use "host:port".`, rangeOf(b, "bastion")),
        );
      }
    }
    const cred = getRef(b, "credential");
    if (cred && !SSH_CREDENTIAL_TYPES.includes(cred.type)) {
      out.push(
        ctx.error(
          `Invalid credential on ssh_port_forward tunnel ${goQuote(b.name)}`,
          `credential must reference an ssh_key credential (got ${cred.type}.${cred.name}).`,
          cred.range,
        ),
      );
    }
    out.push(...validateTunnelCommon(b, ctx));
    return out;
  },
};
