/**
 * Upstream name resolution: the gateway's static `resolve` map first
 * (split-horizon setups and tests, like curl's --resolve), IP literals as
 * they are, then the system resolver.
 */
import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import type { UpstreamResolver } from "../flow.js";

/** Resolves a host name to one address (the first the system resolver returns). */
export type LookupFn = (host: string) => Promise<string>;

const systemLookup: LookupFn = async (host) => (await dns.lookup(host)).address;

/** Resolves a host name to every address it has. */
export type LookupAllFn = (host: string) => Promise<string[]>;

const systemLookupAll: LookupAllFn = async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address);

/** Map keys are compared lower-cased without a trailing root dot. */
function normalise(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

/**
 * {@link UpstreamResolver} over `gateway { resolve = {...} }`. The map is
 * consulted first so a name that also exists in public DNS still goes to
 * the mapped address — which is the point of split-horizon configs.
 */
export class StaticResolver implements UpstreamResolver {
  readonly #map = new Map<string, string>();
  readonly #lookup: LookupFn;

  /**
   * @param entries host name → IP literal (already validated by the config
   *   checks; invalid values throw here so a bug cannot dial garbage)
   * @param lookup fallback for names not in the map (default: `dns.promises.lookup`)
   */
  readonly #lookupAll: LookupAllFn;

  constructor(entries: Record<string, string> = {}, lookup: LookupFn = systemLookup, lookupAll: LookupAllFn = systemLookupAll) {
    for (const [host, ip] of Object.entries(entries)) {
      if (isIP(ip) === 0) throw new Error(`resolve[${JSON.stringify(host)}]: ${JSON.stringify(ip)} is not an IP address`);
      this.#map.set(normalise(host), ip);
    }
    this.#lookup = lookup;
    this.#lookupAll = lookupAll;
  }

  /**
   * Every address a name stands for (the map's one, or all DNS returns):
   * what a flow to an IP may be aimed at when the agent resolved the name
   * itself (WireGuard and other transports that only see addresses).
   */
  async resolveAll(host: string): Promise<string[]> {
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) return [bare];
    const mapped = this.#map.get(normalise(bare));
    if (mapped !== undefined) return [mapped];
    return this.#lookupAll(bare);
  }

  async resolve(host: string): Promise<string> {
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
    if (bare === "") throw new Error("cannot resolve an empty host name");
    if (isIP(bare) !== 0) return bare;
    const mapped = this.#map.get(normalise(bare));
    if (mapped !== undefined) return mapped;
    return this.#lookup(bare);
  }
}
