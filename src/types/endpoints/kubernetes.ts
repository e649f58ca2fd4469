/**
 * `endpoint "kubernetes"`: a Kubernetes API server. HTTPS underneath, but
 * requests are decoded into `k8s.*` facets (verb, resource, namespace,
 * name) and the block carries cluster metadata: the CA to trust, and the
 * EKS cluster/region an `aws_credential` needs to mint a bearer.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import { warning } from "../../config/diagnostics.js";
import type { DecodedBlock, EndpointTypeSpec } from "../schema.js";
import {
  ENDPOINT_COMMON_FIELDS,
  getString,
  getStrings,
  hostEntries,
  isSet,
  rangeOf,
  validateEndpointCommon,
  validateHosts,
  validatePemField,
} from "../common.js";
import { goQuote, reduceUrlToHost } from "../formats.js";

/** `hosts` when set, else the host of `server` (the reference's rule). */
function kubernetesHosts(b: DecodedBlock): string[] {
  const hosts = getStrings(b, "hosts");
  if (hosts && hosts.length > 0) return hostEntries(hosts);
  const server = getString(b, "server");
  return server !== undefined && server.trim() !== "" ? [reduceUrlToHost(server)] : [];
}

/** The spec of `endpoint "kubernetes"`; registered in ../registry.ts. */
export const kubernetesEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "kubernetes",
  family: "k8s",
  doc:
    "A Kubernetes API server. Self-hosted clusters usually set `server` (+ `ca_cert`) and bind an `mtls_credential` or " +
    "`bearer_token`; EKS clusters set `hosts`, `cluster_name` and `region` and bind an `aws_credential`.",
  fields: {
    hosts: {
      type: "list<string>",
      doc: 'API server host names this endpoint claims, optionally with ":port" (default 443); wildcards allowed. Takes precedence over `server` for claiming.',
    },
    server: {
      type: "string",
      doc:
        'The API server as an IP, host, host:port or URL ("https://k8s.example.com:6443"); its host[:port] is claimed ' +
        "when `hosts` is not set. The kubeconfig handed to agents points here.",
    },
    ca_cert: {
      type: "string",
      fileInclude: true,
      doc: 'PEM CA bundle of the cluster, trusted for the upstream API server certificate; usually "<<file:cluster-ca.pem>>".',
    },
    cluster_name: { type: "string", doc: "EKS cluster name, used by a bound `aws_credential` to scope the STS-presigned bearer." },
    region: { type: "string", doc: "AWS region of the EKS cluster, used by a bound `aws_credential`." },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: () => 443,
  hostsOf: kubernetesHosts,
  validate(b, ctx) {
    const out: Diagnostic[] = [];
    const hosts = kubernetesHosts(b);
    const written = getStrings(b, "hosts");
    out.push(...validateHosts(b.name, written && written.length > 0 ? written : hosts, b.defRange, ctx));
    if (isSet(b, "cluster_name") !== isSet(b, "region")) {
      const missing = isSet(b, "cluster_name") ? "region" : "cluster_name";
      out.push(
        warning(
          `Kubernetes endpoint ${goQuote(b.name)} sets only one of cluster_name / region`,
          `An aws_credential needs both to mint an EKS bearer; ${missing} is missing.`,
          rangeOf(b, isSet(b, "cluster_name") ? "cluster_name" : "region"),
        ),
      );
    }
    out.push(...validatePemField(b, "ca_cert", `kubernetes endpoint ${goQuote(b.name)}`));
    out.push(...validateEndpointCommon(b, ctx));
    return out;
  },
};
