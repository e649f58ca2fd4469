/**
 * `endpoint "https"`: any TLS-wrapped HTTP upstream (SaaS APIs, LLM
 * providers). The gateway terminates TLS with a leaf from its own CA,
 * injects the bound credential and evaluates `http.*` rules per request.
 */
import type { EndpointTypeSpec } from "../schema.js";
import {
  ENDPOINT_COMMON_FIELDS,
  getStrings,
  hostEntries,
  validateEndpointCommon,
  validateHosts,
  validatePemField,
} from "../common.js";
import { goQuote } from "../formats.js";

/** Hosts field shared by the HTTP-family endpoint types. */
export const HTTP_HOSTS_FIELD = {
  type: "list<string>",
  required: true,
  doc:
    'Host names this endpoint claims, optionally with ":port" (default 443). A leading "*." matches any name with at ' +
    "least one more label in front; exact names beat wildcards, and longer wildcard suffixes beat shorter ones.",
} as const;

/** The spec of `endpoint "https"`; registered in ../registry.ts. */
export const httpsEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "https",
  family: "http",
  doc: "An HTTPS upstream. Requests are decrypted at the gateway, matched against `http.*` rules and re-encrypted upstream.",
  fields: {
    hosts: HTTP_HOSTS_FIELD,
    ca_cert: {
      type: "string",
      fileInclude: true,
      doc:
        "Extension: PEM CA bundle trusted for this upstream's certificate instead of the system roots (for internal " +
        'services behind a private CA). Usually written as "<<file:ca.pem>>".',
    },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: () => 443,
  hostsOf: (b) => hostEntries(getStrings(b, "hosts")),
  validate(b, ctx) {
    return [
      ...validateHosts(b.name, getStrings(b, "hosts") ?? [], b.defRange, ctx),
      ...validatePemField(b, "ca_cert", `https endpoint ${goQuote(b.name)}`),
      ...validateEndpointCommon(b, ctx),
    ];
  },
};
