/**
 * Cryptokey routing table (whitepaper §2): prefixes → peer, longest prefix
 * wins, and a prefix belongs to at most one peer (adding it to another peer
 * moves it, as `wg set ... allowed-ips` does). Used both ways: outbound
 * ("which peer is 10.0.0.7?") and inbound ("may this peer send from
 * 10.0.0.7?" — only if the lookup answers that same peer).
 */
import { parseIp } from "./noise.js";

export interface Prefix {
  bytes: Uint8Array; // 4 or 16, host bits zeroed
  bits: number;
}

export function parsePrefix(cidr: string): Prefix | null {
  const s = cidr.trim();
  const slash = s.indexOf("/");
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const ip = parseIp(addr);
  if (!ip) return null;
  const isV6Text = addr.includes(":");
  const max = isV6Text ? 128 : 32;
  let bits = max;
  if (slash >= 0) {
    const b = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return null;
    bits = Number(b);
    if (bits > max) return null;
  }
  if (isV6Text && ip.length === 4) {
    // IPv4-mapped IPv6 prefix: only meaningful as an IPv4 prefix.
    if (bits < 96) return null;
    bits -= 96;
  }
  return { bytes: mask(ip, bits), bits };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.bytes)}/${p.bits}`;
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

function mask(ip: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(ip.length);
  for (let i = 0; i < ip.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = ip[i]! & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

function key(bytes: Uint8Array, bits: number): string {
  return Buffer.from(mask(bytes, bits)).toString("hex");
}

export class AllowedIps<T> {
  /** family (4|16 bytes) → prefix length → masked address (hex) → owner. */
  private readonly tables = new Map<number, Map<number, Map<string, T>>>();
  /** Prefix lengths present per family, longest first. */
  private readonly lengths = new Map<number, number[]>();

  insert(p: Prefix, owner: T): void {
    const fam = p.bytes.length;
    let byLen = this.tables.get(fam);
    if (!byLen) this.tables.set(fam, (byLen = new Map()));
    let m = byLen.get(p.bits);
    if (!m) {
      byLen.set(p.bits, (m = new Map()));
      this.lengths.set(fam, [...byLen.keys()].sort((a, b) => b - a));
    }
    m.set(key(p.bytes, p.bits), owner);
  }

  /** Removes every prefix owned by `owner`. */
  removeOwner(owner: T): void {
    for (const [fam, byLen] of this.tables) {
      for (const [bits, m] of byLen) {
        for (const [k, v] of m) if (v === owner) m.delete(k);
        if (m.size === 0) byLen.delete(bits);
      }
      this.lengths.set(fam, [...byLen.keys()].sort((a, b) => b - a));
    }
  }

  /** Prefixes currently owned by `owner`. */
  prefixesOf(owner: T): Prefix[] {
    const out: Prefix[] = [];
    for (const [, byLen] of this.tables) {
      for (const [bits, m] of byLen) {
        for (const [k, v] of m) if (v === owner) out.push({ bytes: Buffer.from(k, "hex"), bits });
      }
    }
    return out;
  }

  /** Longest-prefix match for an address (4 or 16 bytes). */
  lookup(addr: Uint8Array): T | undefined {
    const fam = addr.length;
    const byLen = this.tables.get(fam);
    const lens = this.lengths.get(fam);
    if (!byLen || !lens) return undefined;
    for (const bits of lens) {
      const hit = byLen.get(bits)?.get(key(addr, bits));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}
