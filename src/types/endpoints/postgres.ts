/**
 * `endpoint "postgres"`: one Postgres server. The gateway terminates the
 * wire protocol on both sides, authenticates upstream with the bound
 * `postgres_credential`, and evaluates `sql.*` rules per statement.
 */
import type { EndpointTypeSpec } from "../schema.js";
import { ENDPOINT_COMMON_FIELDS, getString, validateEndpointCommon, validateHosts, validatePemField } from "../common.js";
import { goQuote } from "../formats.js";

/** libpq `sslmode` values the upstream hop understands. */
export const POSTGRES_SSLMODES = ["disable", "prefer", "require", "verify-full"] as const;

/** The spec of `endpoint "postgres"`; registered in ../registry.ts. */
export const postgresEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "postgres",
  family: "sql",
  doc: "A Postgres server (RDS, Cloud SQL, self-hosted). Each SQL statement is parsed and matched against `sql.*` rules.",
  fields: {
    host: {
      type: "string",
      required: true,
      doc: 'The upstream as "host:port" (port defaults to 5432). Agents dial this name; a tunneled endpoint gets a virtual IP for it.',
    },
    sslmode: {
      type: "string",
      enum: POSTGRES_SSLMODES,
      default: "prefer",
      doc:
        'TLS on the upstream hop, as in libpq: "disable" (plain), "prefer" (TLS if offered), "require" (TLS or fail), ' +
        '"verify-full" (TLS with the certificate checked against the host name).',
    },
    ca_cert: {
      type: "string",
      fileInclude: true,
      doc:
        'Extension: PEM CA bundle trusted for the server certificate under `sslmode = "verify-full"` instead of the ' +
        'system roots (RDS and Cloud SQL publish theirs). Usually written as "<<file:ca.pem>>".',
    },
    database: {
      type: "string",
      doc: "Accepted for configs written for older reference releases, where it named the default database; the agent's StartupMessage decides the database.",
    },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: () => 5432,
  hostsOf: (b) => {
    const host = getString(b, "host")?.trim();
    return host ? [host] : [];
  },
  validate(b, ctx) {
    const host = getString(b, "host");
    return [
      ...(host === undefined ? [] : validateHosts(b.name, [host.trim()], b.defRange, ctx, { wildcard: false })),
      ...validatePemField(b, "ca_cert", `postgres endpoint ${goQuote(b.name)}`),
      ...validateEndpointCommon(b, ctx),
    ];
  },
};
