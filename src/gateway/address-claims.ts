/**
 * Endpoints claimed by address. A transport that only knows the IP the
 * agent connected to (WireGuard, a SOCKS5 client that resolved the name
 * itself) still has to reach the `postgres` or `ssh` endpoint whose host
 * name resolves there — these protocols carry no name on the wire. So at
 * policy load the gateway resolves those endpoints' host names (through
 * `gateway { resolve }` first, then DNS) into this table, per profile:
 * two endpoints on one address are told apart by the device's profile.
 *
 * TLS families are left out: their flows are claimed by SNI, which is
 * stricter than an address.
 */
import { isIP } from "node:net";
import { parseHostEntry } from "../config/hosts.js";
import type { CompiledEndpoint, CompiledPolicy } from "../policy/compiled.js";
import type { Family } from "../policy/action.js";
import { hostPortKey } from "./dispatch-route.js";

/** One endpoint claiming an address, with the name it was configured by (what the runtime dials and verifies). */
export interface AddressClaim {
  endpoint: CompiledEndpoint;
  host: string;
}

/** What routing asks: who claims `ip:port` for a profile. */
export interface AddressLookup {
  claimants(profile: string, ip: string, port: number): readonly AddressClaim[];
}

/** Families claimed by address (protocols without a name on the wire). */
const ADDRESS_FAMILIES: ReadonlySet<Family> = new Set<Family>(["sql", "ssh"]);

export class AddressClaims implements AddressLookup {
  readonly #byProfile = new Map<string, Map<string, AddressClaim[]>>();

  /**
   * Resolves the policy's claimable host names. Names that do not resolve
   * are reported through `onError` and simply claim nothing (the flow is
   * relayed or refused as any unclaimed one).
   */
  static async build(
    policy: CompiledPolicy,
    resolveAll: (host: string) => Promise<string[]>,
    onError: (host: string, error: Error) => void = () => {},
  ): Promise<AddressClaims> {
    const claims = new AddressClaims();
    const cache = new Map<string, Promise<string[]>>();
    const lookup = (host: string) => {
      let p = cache.get(host);
      if (!p) {
        p = resolveAll(host).catch((e: Error) => {
          onError(host, e);
          return [];
        });
        cache.set(host, p);
      }
      return p;
    };
    for (const profile of policy.profiles.values()) {
      const table = new Map<string, AddressClaim[]>();
      for (const ep of profile.endpoints.values()) {
        if (!ADDRESS_FAMILIES.has(ep.family)) continue;
        for (const h of ep.decl.hosts) {
          const entry = parseHostEntry(h);
          if (!entry || entry.wildcard) continue;
          const port = entry.port ?? ep.decl.defaultPort;
          for (const ip of await lookup(entry.host)) {
            const key = hostPortKey(ip, port);
            const list = table.get(key) ?? [];
            if (!list.some((c) => c.endpoint === ep)) list.push({ endpoint: ep, host: entry.host });
            table.set(key, list);
          }
        }
      }
      claims.#byProfile.set(profile.name, table);
    }
    return claims;
  }

  claimants(profile: string, ip: string, port: number): readonly AddressClaim[] {
    if (isIP(ip) === 0) return [];
    return this.#byProfile.get(profile)?.get(hostPortKey(ip, port)) ?? [];
  }
}
