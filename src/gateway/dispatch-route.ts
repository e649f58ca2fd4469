/**
 * Routing a flow — the dispatcher's decision as a pure function of the
 * compiled policy, the flow's profile and destination, and what its first
 * bytes looked like. No sockets, no clock: the table tests exercise it
 * directly, and the dispatcher (./dispatch.ts) only carries it out.
 *
 * The rules (the reference's, made fail-closed where it was silent):
 *
 * 1. A flow whose profile is not in the policy is rejected (a transport
 *    pointed at a profile that a reload removed must not fall back to
 *    "no endpoints ⇒ relay everything").
 * 2. A TLS ClientHello whose SNI an endpoint of the profile claims on the
 *    destination port ⇒ intercept that endpoint.
 * 3. Otherwise a destination `host:port` an endpoint of the profile claims ⇒
 *    intercept — on any port, with or without TLS, and even when the SNI
 *    names something else: a claimed destination is never relayed
 *    unfiltered (an agent must not dodge an endpoint by sending a different
 *    SNI). This is how a kubernetes `server` IP (no SNI) and a postgres
 *    `host:5432` are claimed.
 * 3a. A destination IP that a `postgres` / `ssh` endpoint's host name
 *    resolves to (see ./address-claims.ts) ⇒ intercept that endpoint,
 *    dialing the configured name; two such endpoints of one profile on
 *    one address ⇒ reject (the policy cannot say which is meant).
 * 4. TLS on :443 that nothing claims ⇒ `defaults.unknown_host`
 *    (`passthrough` relays untouched; anything else — `deny`, and `inspect`
 *    until it is implemented — refuses).
 * 5. Everything else (non-TLS, other ports) ⇒ transparent relay.
 *
 * Which flows are worth sniffing at all is {@link shouldSniff}: port 443,
 * and the ports on which a TLS-family endpoint (http, k8s) of the profile
 * claims some host — so an https endpoint on `api.internal:8443` is found
 * by SNI even when a WireGuard flow only knows the destination IP.
 */
import type { CompiledEndpoint, CompiledPolicy, CompiledProfile } from "../policy/compiled.js";
import type { Family } from "../policy/action.js";
import type { Destination } from "./flow.js";
import { parseHostEntry } from "../config/hosts.js";
import type { AddressLookup } from "./address-claims.js";

/** What the flow's first bytes turned out to be. */
export type FirstBytes =
  /**
   * A TLS ClientHello. `sni` is absent when the hello carried none (an IP
   * server) or could not be read completely in time — both route as "TLS
   * without a name", which is the fail-closed reading.
   */
  | { kind: "tls"; sni?: string; alpn: readonly string[] }
  /** Something other than TLS (or nothing within the sniff timeout: a server-speaks-first protocol). */
  | { kind: "not-tls" }
  /** Not sniffed (see {@link shouldSniff}). */
  | { kind: "unsniffed" };

/** What to do with a flow; the dispatcher executes it, the audit log records it. */
export type Route =
  | {
      kind: "intercept";
      endpoint: CompiledEndpoint;
      /** What matched: the ClientHello's SNI, or the destination the agent dialed. */
      claimedBy: "sni" | "destination";
      /**
       * Where the endpoint runtime should connect: the SNI name when the SNI
       * claimed the flow (never the dialed address, which the agent
       * controls), else the destination.
       */
      upstream: Destination;
    }
  | { kind: "unknown-host"; action: "passthrough" | "deny"; sni?: string }
  | { kind: "relay" }
  | { kind: "reject"; reason: string };

/** The flow fields routing looks at. */
export interface RouteInput {
  profile: string;
  destination: Destination;
}

/** Endpoint families whose agents speak TLS first (worth a ClientHello peek). */
const TLS_FAMILIES: ReadonlySet<Family> = new Set<Family>(["http", "k8s"]);

/** `host:port` as HostIndex.lookup takes it (IPv6 bracketed). */
export function hostPortKey(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Ports on which a TLS-family endpoint of a profile claims hosts (memoised per compiled profile). */
const tlsPortsMemo = new WeakMap<CompiledProfile, ReadonlySet<number>>();
function tlsPorts(profile: CompiledProfile): ReadonlySet<number> {
  let ports = tlsPortsMemo.get(profile);
  if (!ports) {
    const set = new Set<number>();
    for (const ep of profile.endpoints.values()) {
      if (!TLS_FAMILIES.has(ep.family)) continue;
      for (const h of ep.decl.hosts) {
        const entry = parseHostEntry(h);
        if (entry) set.add(entry.port ?? ep.decl.defaultPort);
      }
    }
    ports = set;
    tlsPortsMemo.set(profile, ports);
  }
  return ports;
}

/** Whether the dispatcher should peek at the flow's first bytes for a ClientHello. */
export function shouldSniff(policy: CompiledPolicy, flow: RouteInput): boolean {
  const profile = policy.profiles.get(flow.profile);
  if (!profile) return false; // rejected without reading a byte
  return flow.destination.port === 443 || tlsPorts(profile).has(flow.destination.port);
}

/** The first endpoint of the profile claiming `host` on `port`. */
function claimant(profile: CompiledProfile, host: string, port: number): CompiledEndpoint | undefined {
  return profile.hosts.lookup(hostPortKey(host, port))[0];
}

/** Decides the route of a flow (see the module comment for the rules). */
export function routeFlow(policy: CompiledPolicy, flow: RouteInput, first: FirstBytes, addresses?: AddressLookup): Route {
  const profile = policy.profiles.get(flow.profile);
  if (!profile) return { kind: "reject", reason: `profile ${JSON.stringify(flow.profile)} is not in the policy` };
  const { host, port } = flow.destination;
  const sni = first.kind === "tls" && first.sni ? first.sni : undefined;
  if (sni !== undefined) {
    const ep = claimant(profile, sni, port);
    if (ep) return { kind: "intercept", endpoint: ep, claimedBy: "sni", upstream: { host: sni, port } };
  }
  const ep = claimant(profile, host, port);
  if (ep) return { kind: "intercept", endpoint: ep, claimedBy: "destination", upstream: { host, port } };
  const byAddress = addresses?.claimants(profile.name, host, port) ?? [];
  if (byAddress.length > 1) {
    return { kind: "reject", reason: `${hostPortKey(host, port)} is claimed by several endpoints (${byAddress.map((c) => c.endpoint.key).join(", ")}) in profile "${profile.name}"` };
  }
  if (byAddress.length === 1) {
    const c = byAddress[0]!;
    return { kind: "intercept", endpoint: c.endpoint, claimedBy: "destination", upstream: { host: c.host, port } };
  }
  if (first.kind === "tls" && port === 443) {
    const action = policy.defaults.unknownHost === "passthrough" ? "passthrough" : "deny";
    return sni !== undefined ? { kind: "unknown-host", action, sni } : { kind: "unknown-host", action };
  }
  return { kind: "relay" };
}
