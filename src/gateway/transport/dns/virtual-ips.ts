/**
 * Virtual IPv4 addresses for host names the tunnel's DNS answers itself.
 *
 * `postgres`, `ssh` and ClickHouse-native agents carry no host name on the
 * wire, and a tunneled endpoint's name may not resolve anywhere the agent
 * can see. So inside the tunnel such a name resolves to an address of its
 * own from a dedicated range (default 100.80.0.0/16): a flow to it is, for
 * routing, exactly a flow to the name (./lookup.ts). One address per name,
 * shared by every profile; persisted so an agent that cached an answer
 * across a gateway restart still reaches the same name.
 *
 * Persistence is two settings keys per name (`dns.vip.name:<name>` → ip and
 * `dns.vip.addr:<ip>` → name), each claimed with `setIfAbsent`, so two
 * processes allocating at once never hand one address to two names.
 */
import { createHash } from "node:crypto";
import { isIP, isIPv4 } from "node:net";
import { parseHostEntry } from "../../../config/hosts.js";
import type { CompiledEndpoint, CompiledPolicy } from "../../../policy/compiled.js";
import type { SettingsRepo } from "../../../store/settings.js";
import type { DecodedSingleton } from "../../../types/schema.js";

/** The store operations allocation needs (the gateway passes `store.settings`). */
export type VirtualIpStore = Pick<SettingsRepo, "get" | "set" | "setIfAbsent" | "delete">;

/** Default range virtual addresses come from. */
export const DEFAULT_VIRTUAL_RANGE = "100.80.0.0/16";

/** An IPv4 CIDR as numbers. */
export interface Ipv4Cidr {
  /** Network address (host bits cleared). */
  base: number;
  prefix: number;
  /** Number of addresses (2^(32-prefix)). */
  size: number;
}

/** Dotted quad → uint32; undefined when not an IPv4 literal. */
export function ipv4ToInt(ip: string): number | undefined {
  if (!isIPv4(ip)) return undefined;
  const p = ip.split(".").map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

/** uint32 → dotted quad. */
export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Parses "a.b.c.d/n" (host bits are cleared); throws on anything else. */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const addr = m ? ipv4ToInt(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 32)) throw new Error(`${JSON.stringify(text)} is not an IPv4 CIDR ("100.80.0.0/16")`);
  const size = 2 ** (32 - prefix);
  const base = prefix === 0 ? 0 : (addr & ((0xffffffff << (32 - prefix)) >>> 0)) >>> 0;
  return { base, prefix, size };
}

function cidrContains(c: Ipv4Cidr, n: number): boolean {
  return n >= c.base && n < c.base + c.size;
}

function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** Lower-cased, without a trailing root dot (how names are keyed). */
export function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/**
 * Endpoint types of the address-claimed families that are nevertheless
 * carried in TLS with a name (SNI), so they need no virtual address.
 */
const SNI_NAMED_TYPES: ReadonlySet<string> = new Set(["clickhouse_https"]);

/**
 * Whether an endpoint's host names get virtual addresses: the families
 * without a name on the wire (`ssh`, `sql` — postgres, ClickHouse native —
 * except types carried over HTTPS), and every tunneled endpoint (its name
 * may resolve only beyond the tunnel).
 */
export function needsVirtualIp(ep: CompiledEndpoint): boolean {
  if (ep.decl.tunnel !== undefined) return true;
  if (ep.family === "ssh") return true;
  return ep.family === "sql" && !SNI_NAMED_TYPES.has(ep.type);
}

/** Whether an address is one the gateway's own host owns (loopback, unspecified): useless to a tunnel client. */
export function isGatewayLocalAddress(ip: string): boolean {
  if (isIPv4(ip)) return ip.startsWith("127.") || ip === "0.0.0.0";
  const v6 = ip.toLowerCase();
  return v6 === "::1" || v6 === "::" || v6.startsWith("::ffff:127.");
}

/**
 * The names that get virtual addresses under a policy: every concrete
 * (non-wildcard, non-IP) host of an endpoint that {@link needsVirtualIp}, plus
 * `gateway { resolve }` names mapped to a gateway-local address (a tunnel
 * client dialing 127.0.0.1 would reach itself; through a virtual address the
 * flow comes to the gateway, which dials the name — and so the mapped
 * address — for it).
 */
export function virtualNamesOf(policy: CompiledPolicy, resolve: Record<string, string> = {}): Set<string> {
  const names = new Set<string>();
  for (const ep of policy.endpoints.values()) {
    if (!needsVirtualIp(ep)) continue;
    for (const h of ep.decl.hosts) {
      const entry = parseHostEntry(h);
      if (!entry || entry.wildcard || isIP(entry.host) !== 0 || entry.host === "") continue;
      names.add(entry.host);
    }
  }
  for (const [name, ip] of Object.entries(resolve)) {
    const n = normaliseName(name);
    if (n !== "" && isIP(n) === 0 && !n.includes("*") && isGatewayLocalAddress(ip)) names.add(n);
  }
  return names;
}

export interface VirtualIpsOptions {
  /** The range addresses come from, an IPv4 CIDR between /8 and /30 (default {@link DEFAULT_VIRTUAL_RANGE}). */
  range?: string;
  /** CIDRs the range must not overlap (the WireGuard `subnet_cidr`); an overlap throws. */
  exclude?: readonly string[];
}

/** The WireGuard `subnet_cidr` of a `gateway {}` block, as {@link VirtualIpsOptions.exclude} takes it. */
export function wireguardSubnetsOf(gateway: DecodedSingleton | undefined): string[] {
  const out: string[] = [];
  for (const wg of gateway?.blocks["wireguard"] ?? []) {
    const cidr = wg.fields["subnet_cidr"];
    if (typeof cidr === "string" && cidr !== "") out.push(cidr);
  }
  return out;
}

const NAME_KEY = "dns.vip.name:";
const ADDR_KEY = "dns.vip.addr:";

/** Stable, persisted virtual IPv4 addresses, one per host name. */
export class VirtualIps {
  readonly #store: VirtualIpStore;
  readonly #range: Ipv4Cidr;
  /** The range as configured, normalised ("100.80.0.0/16"). */
  readonly range: string;
  readonly #byName = new Map<string, string>();
  readonly #byAddr = new Map<string, string>();

  constructor(store: VirtualIpStore, opts: VirtualIpsOptions = {}) {
    this.#store = store;
    const range = parseIpv4Cidr(opts.range ?? DEFAULT_VIRTUAL_RANGE);
    if (range.prefix < 8 || range.prefix > 30) throw new Error(`virtual IP range ${opts.range} must be between /8 and /30`);
    for (const ex of opts.exclude ?? []) {
      if (ex.includes(":")) continue; // IPv6 subnets cannot overlap an IPv4 range
      if (cidrsOverlap(range, parseIpv4Cidr(ex))) {
        throw new Error(`virtual IP range ${intToIpv4(range.base)}/${range.prefix} overlaps ${ex}; choose another range`);
      }
    }
    this.#range = range;
    this.range = `${intToIpv4(range.base)}/${range.prefix}`;
  }

  /** Whether `ip` lies in the virtual range (assigned or not). */
  contains(ip: string): boolean {
    const n = ipv4ToInt(ip);
    return n !== undefined && cidrContains(this.#range, n);
  }

  /** The address already assigned to `name` (memory, then the store); never allocates. */
  addressOf(name: string): string | undefined {
    const n = normaliseName(name);
    const hit = this.#byName.get(n);
    if (hit !== undefined) return hit;
    const stored = this.#store.get(NAME_KEY + n);
    if (stored === undefined || !this.#usable(stored) || this.#store.get(ADDR_KEY + stored) !== n) return undefined;
    this.#remember(n, stored);
    return stored;
  }

  /** The name a virtual address stands for, or undefined (not in the range, or never assigned). */
  lookupName(ip: string): string | undefined {
    const hit = this.#byAddr.get(ip);
    if (hit !== undefined) return hit;
    if (!this.#usable(ip)) return undefined;
    const name = this.#store.get(ADDR_KEY + ip);
    // Both keys must agree: an address key left over from a reallocation names nothing.
    if (name === undefined || this.#store.get(NAME_KEY + name) !== ip) return undefined;
    this.#remember(name, ip);
    return name;
  }

  /**
   * The address of `name`, assigning (and persisting) one when it has none.
   * The first candidate is a hash of the name, so even a fresh database
   * tends to give a name the same address; collisions probe onwards.
   */
  allocate(name: string): string {
    const n = normaliseName(name);
    if (n === "" || isIP(n) !== 0 || n.includes("*")) throw new Error(`${JSON.stringify(name)} is not a host name`);
    const known = this.addressOf(n);
    if (known !== undefined) return known;
    const stale = this.#store.get(NAME_KEY + n) !== undefined; // e.g. from another range: replaced below
    const usable = this.#range.size - 2;
    const start = createHash("sha256").update(n).digest().readUInt32BE(0) % usable;
    for (let i = 0; i < usable; i++) {
      const ip = intToIpv4(this.#range.base + 1 + ((start + i) % usable));
      const owner = this.#store.setIfAbsent(ADDR_KEY + ip, n);
      if (owner !== n) {
        // Taken — unless its owner has since moved elsewhere (a stale key): reclaim it.
        if (this.#store.get(NAME_KEY + owner) === ip) continue;
        this.#store.set(ADDR_KEY + ip, n);
      }
      if (stale) {
        this.#store.set(NAME_KEY + n, ip);
      } else {
        const bound = this.#store.setIfAbsent(NAME_KEY + n, ip);
        if (bound !== ip) {
          // Another process named an address for `n` meanwhile: give ours back and use theirs.
          if (this.#store.get(ADDR_KEY + ip) === n) this.#store.delete(ADDR_KEY + ip);
          const theirs = this.addressOf(n);
          if (theirs !== undefined) return theirs;
          continue;
        }
      }
      this.#remember(n, ip);
      return ip;
    }
    throw new Error(`virtual IP range ${this.range} is exhausted`);
  }

  /** Allocates every name (policy load and reload); returns name → address. */
  sync(names: Iterable<string>): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of names) out.set(normaliseName(name), this.allocate(name));
    return out;
  }

  /** In the range and neither its network nor its broadcast address. */
  #usable(ip: string): boolean {
    const n = ipv4ToInt(ip);
    return n !== undefined && n > this.#range.base && n < this.#range.base + this.#range.size - 1;
  }

  #remember(name: string, ip: string): void {
    this.#byName.set(name, ip);
    this.#byAddr.set(ip, name);
  }
}
