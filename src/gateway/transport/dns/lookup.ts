/**
 * Routing flows aimed at virtual addresses (./virtual-ips.ts).
 *
 * A flow to `virtualIp:port` is, for routing, a flow to the name the
 * address stands for: the endpoint of the flow's profile that claims
 * `name:port` (the profile's host index — exact names, wildcards, ports,
 * exactly as if the agent had dialed the name through the proxy) claims it,
 * and the runtime dials the configured name. Nothing else may ever dial a
 * virtual address itself: {@link virtualAwareResolver} turns one back into
 * its name for relays, and refuses addresses that stand for nothing (the
 * default range lies in the CGNAT block, where a real host may live on a
 * tailnet).
 */
import type { AddressClaim, AddressLookup } from "../../address-claims.js";
import { hostPortKey } from "../../dispatch-route.js";
import type { UpstreamResolver } from "../../flow.js";
import type { CompiledPolicy } from "../../../policy/compiled.js";
import type { VirtualIps } from "./virtual-ips.js";

/** The part of {@link VirtualIps} lookups need. */
export type VirtualNames = Pick<VirtualIps, "lookupName" | "contains">;

/**
 * An {@link AddressLookup} over virtual addresses. `policy` is read per
 * call, so it follows reloads without being rebuilt.
 */
export function virtualAddressLookup(policy: () => CompiledPolicy, virtualIps: VirtualNames): AddressLookup {
  return {
    claimants(profileName: string, ip: string, port: number): readonly AddressClaim[] {
      if (!virtualIps.contains(ip)) return [];
      const name = virtualIps.lookupName(ip);
      if (name === undefined) return [];
      const profile = policy().profiles.get(profileName);
      const ep = profile?.hosts.lookup(hostPortKey(name, port))[0];
      return ep ? [{ endpoint: ep, host: name }] : [];
    },
  };
}

/**
 * Several lookups as one: the claimants of every lookup, each endpoint once
 * (so the same endpoint found twice is not mistaken for an ambiguity).
 * Undefined entries (a table still being built) are skipped.
 */
export function combineLookups(...lookups: (AddressLookup | undefined)[]): AddressLookup {
  const present = lookups.filter((l): l is AddressLookup => l !== undefined);
  return {
    claimants(profile: string, ip: string, port: number): readonly AddressClaim[] {
      const out: AddressClaim[] = [];
      for (const l of present) {
        for (const c of l.claimants(profile, ip, port)) if (!out.some((o) => o.endpoint === c.endpoint)) out.push(c);
      }
      return out;
    },
  };
}

/**
 * Wraps the upstream resolver so a virtual address is never dialed as such:
 * it resolves as the name it stands for (a relay of a flow no endpoint of
 * the profile claims reaches the real server), and one that stands for no
 * name is refused.
 */
export function virtualAwareResolver(inner: UpstreamResolver, virtualIps: VirtualNames): UpstreamResolver {
  return {
    async resolve(host: string): Promise<string> {
      if (virtualIps.contains(host)) {
        const name = virtualIps.lookupName(host);
        if (name === undefined) throw new Error(`${host} is an unassigned virtual address`);
        return inner.resolve(name);
      }
      return inner.resolve(host);
    },
  };
}
