/**
 * `tunnel "kubernetes_port_forward"`: `kubectl port-forward` into a
 * cluster — to a pod, a service, a label-selected pod, or a jump pod the
 * gateway creates from a template. With `server` set, the gateway writes
 * its own kubeconfig and mints the bearer from the tunnel's credential.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import type { TunnelTypeSpec } from "../schema.js";
import {
  TUNNEL_COMMON_FIELDS,
  getString,
  isSet,
  rangeOf,
  validateIntRange,
  validatePemField,
  validateTunnelCommon,
} from "../common.js";
import { checkHttpUrl, goQuote } from "../formats.js";

/** The fields naming what to forward to; exactly one must be set. */
const TARGETS = ["pod", "service", "selector", "template"] as const;

/** The spec of `tunnel "kubernetes_port_forward"`; registered in ../registry.ts. */
export const kubernetesPortForwardTunnel: TunnelTypeSpec = {
  kind: "tunnel",
  type: "kubernetes_port_forward",
  doc:
    "Reaches an in-cluster target through `kubectl port-forward`. Set exactly one of `pod`, `service`, `selector`, " +
    "`template`. Each endpoint gets its own forward by default (`share = \"per_endpoint\"`).",
  fields: {
    context: { type: "string", doc: "kubeconfig context to use; unset uses the current one. Ignored when `server` is set." },
    namespace: { type: "string", doc: "Namespace of the target." },
    pod: { type: "string", doc: "Forward to this existing pod." },
    service: { type: "string", doc: "Forward to this service (`port` is then the service port)." },
    selector: { type: "map<string,string>", doc: "Forward to a ready pod matching these labels." },
    template: {
      type: "string",
      doc: "A pod manifest (YAML) the gateway creates on demand and forwards to — e.g. a socat jump pod in front of a VPC-only database.",
    },
    port: { type: "int", required: true, doc: "The port on the target to forward to." },
    cleanup: {
      type: "string",
      enum: ["delete", "keep"],
      default: "delete",
      doc: 'Whether pods created from `template` are deleted when the tunnel closes (and leftovers swept at start): "delete" or "keep".',
    },
    server: {
      type: "string",
      doc: "API server URL. When set, the gateway writes a per-tunnel kubeconfig (server, `ca_cert`, bearer from `credential`) instead of using the host's.",
    },
    ca_cert: {
      type: "string",
      fileInclude: true,
      doc: 'PEM CA of the API server (needed with `server` for EKS); usually "<<file:cluster-ca.pem>>".',
    },
    cluster_name: { type: "string", doc: "EKS cluster name for an `aws_credential`-minted bearer (with `server`)." },
    region: { type: "string", doc: "AWS region of the EKS cluster (with `server`)." },
    ...TUNNEL_COMMON_FIELDS,
    share: { ...TUNNEL_COMMON_FIELDS["share"]!, default: "per_endpoint" },
  },
  validate(b, ctx) {
    const out: Diagnostic[] = [];
    const set = TARGETS.filter((t) => isSet(b, t));
    if (set.length !== 1) {
      out.push(
        ctx.error(
          `Ambiguous target on kubernetes_port_forward tunnel ${goQuote(b.name)}`,
          set.length === 0
            ? "Set exactly one of pod, service, selector or template; none is set."
            : `Set exactly one of pod, service, selector or template; found ${set.join(", ")}.`,
          set.length === 0 ? b.defRange : rangeOf(b, set[1]!),
        ),
      );
    }
    out.push(...validateIntRange(b, "port", 1, 65535, ctx));
    const server = getString(b, "server");
    if (server !== undefined) {
      const err = checkHttpUrl(server);
      if (err) out.push(ctx.error(`Invalid server on kubernetes_port_forward tunnel ${goQuote(b.name)}`, `server = ${goQuote(server)}: ${err}.`, rangeOf(b, "server")));
    }
    out.push(...validatePemField(b, "ca_cert", `kubernetes_port_forward tunnel ${goQuote(b.name)}`));
    out.push(...validateTunnelCommon(b, ctx));
    return out;
  },
};
