/**
 * `endpoint "openai_codex_https"`: the ChatGPT/Codex subscription surface
 * (chatgpt.com). HTTP family like `https`, but its own type because the
 * Codex backend speaks a websocket-heavy protocol the runtime handles
 * separately from plain REST.
 */
import type { EndpointTypeSpec } from "../schema.js";
import { ENDPOINT_COMMON_FIELDS, getStrings, hostEntries, validateEndpointCommon, validateHosts } from "../common.js";
import { HTTP_HOSTS_FIELD } from "./https.js";

/** The spec of `endpoint "openai_codex_https"`; registered in ../registry.ts. */
export const openaiCodexHttpsEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "openai_codex_https",
  family: "http",
  doc:
    "The ChatGPT/Codex subscription backend (usually `chatgpt.com`), used with `openai_codex_oauth`. Rules see `http.*` " +
    "like on an `https` endpoint.",
  fields: {
    hosts: { ...HTTP_HOSTS_FIELD, doc: "Host names of the Codex backend this endpoint claims (usually `chatgpt.com`), optionally with \":port\" (default 443)." },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: () => 443,
  hostsOf: (b) => hostEntries(getStrings(b, "hosts")),
  validate(b, ctx) {
    return [...validateHosts(b.name, getStrings(b, "hosts") ?? [], b.defRange, ctx), ...validateEndpointCommon(b, ctx)];
  },
};
