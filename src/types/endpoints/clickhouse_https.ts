/**
 * `endpoint "clickhouse_https"`: ClickHouse's HTTP(S) query interface.
 * SQL family: the query text is parsed and matched against `sql.*` rules,
 * the same rules a `clickhouse_native` endpoint of the same cluster uses.
 * (The reference declares this type but does not intercept it; we do.)
 */
import type { EndpointTypeSpec } from "../schema.js";
import { ENDPOINT_COMMON_FIELDS, getStrings, hostEntries, validateEndpointCommon, validateHosts } from "../common.js";

/** The spec of `endpoint "clickhouse_https"`; registered in ../registry.ts. */
export const clickhouseHttpsEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "clickhouse_https",
  family: "sql",
  doc:
    "ClickHouse over its HTTPS interface. Queries are parsed and matched against `sql.*` rules; credentials go in the " +
    "Authorization header, never the URL.",
  fields: {
    hosts: {
      type: "list<string>",
      required: true,
      doc: 'ClickHouse HTTPS host names this endpoint claims, optionally with ":port" (default 443; ClickHouse Cloud uses 8443).',
    },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: () => 443,
  hostsOf: (b) => hostEntries(getStrings(b, "hosts")),
  validate(b, ctx) {
    return [...validateHosts(b.name, getStrings(b, "hosts") ?? [], b.defRange, ctx), ...validateEndpointCommon(b, ctx)];
  },
};
