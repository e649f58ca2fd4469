/**
 * `endpoint "clickhouse_native"`: ClickHouse's binary native protocol. No
 * host name on the wire, so the gateway gives these names virtual IPs,
 * rewrites the Hello packet with the bound credential and parses each
 * Query packet for `sql.*` rules.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import type { DecodedBlock, EndpointTypeSpec } from "../schema.js";
import {
  ENDPOINT_COMMON_FIELDS,
  getBool,
  getNumber,
  getStrings,
  hostEntries,
  validateEndpointCommon,
  validateHosts,
  validateIntRange,
} from "../common.js";
import { goQuote } from "../formats.js";

/** `port` when set, else 9440 with TLS and 9000 without (ClickHouse's own defaults). */
function nativeDefaultPort(b: DecodedBlock): number {
  const port = getNumber(b, "port");
  if (port !== undefined && port > 0) return port;
  return getBool(b, "tls") === true ? 9440 : 9000;
}

/** The spec of `endpoint "clickhouse_native"`; registered in ../registry.ts. */
export const clickhouseNativeEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "clickhouse_native",
  family: "sql",
  doc:
    "ClickHouse over the native TCP protocol (clickhouse-client). Set `tls = true` for ClickHouse Cloud or any server " +
    "listening with TLS; the agent then speaks TLS to the gateway too.",
  fields: {
    hosts: {
      type: "list<string>",
      required: true,
      doc: 'ClickHouse servers this endpoint claims, optionally with ":port"; entries without one use `port`.',
    },
    port: {
      type: "int",
      doc: "Port for host entries written without one. Defaults to 9440 when `tls` is on and 9000 otherwise.",
    },
    tls: {
      type: "bool",
      default: false,
      doc: "Speak native-over-TLS on both hops: the gateway terminates the agent's TLS and opens TLS upstream.",
    },
    accept_invalid_certificate: {
      type: "bool",
      default: false,
      doc: "Skip verification of the upstream certificate (self-hosted servers with a private CA). Only meaningful with `tls = true`.",
    },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: nativeDefaultPort,
  hostsOf: (b) => hostEntries(getStrings(b, "hosts")),
  validate(b, ctx) {
    const out: Diagnostic[] = [];
    if (getBool(b, "accept_invalid_certificate") === true && getBool(b, "tls") !== true) {
      out.push(
        ctx.error(
          `accept_invalid_certificate set without tls on clickhouse_native endpoint ${goQuote(b.name)}`,
          "accept_invalid_certificate only affects the upstream TLS handshake; set `tls = true` to enable TLS, or remove accept_invalid_certificate.",
          b.defRange,
        ),
      );
    }
    out.push(...validateIntRange(b, "port", 1, 65535, ctx));
    out.push(...validateHosts(b.name, getStrings(b, "hosts") ?? [], b.defRange, ctx, { wildcard: false }));
    out.push(...validateEndpointCommon(b, ctx));
    return out;
  },
};
