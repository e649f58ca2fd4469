/**
 * The WireGuard tunnel subnet (`gateway { wireguard { subnet_cidr } }`):
 * the gateway takes the first host address, devices get the following ones
 * (each as a /32), the network and broadcast addresses are never handed out.
 * IPv4 only (the config field says so).
 */

export interface Subnet {
  /** Canonical "a.b.c.d/len" (host bits cleared). */
  cidr: string;
  network: number;
  prefix: number;
  /** The gateway's tunnel address (first host). */
  gateway: string;
  /** First and last assignable device addresses, as integers. */
  first: number;
  last: number;
}

export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]!.startsWith("0"))) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Parses `subnet_cidr`; throws with a readable message when it is unusable. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  const base = m ? ipToInt(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new Error(`wireguard.subnet_cidr ${JSON.stringify(cidr)} must be an IPv4 CIDR between /8 and /30`);
  }
  const size = 2 ** (32 - prefix);
  const network = base - (base % size);
  return {
    cidr: `${intToIp(network)}/${prefix}`,
    network,
    prefix,
    gateway: intToIp(network + 1),
    first: network + 2,
    last: network + size - 2,
  };
}

export function inSubnet(s: Subnet, ip: string): boolean {
  const n = ipToInt(ip);
  return n !== undefined && n >= s.network && n < s.network + 2 ** (32 - s.prefix);
}

/** The lowest device address not in `used`, or undefined when the subnet is full. */
export function nextFreeAddress(s: Subnet, used: ReadonlySet<string>): string | undefined {
  for (let n = s.first; n <= s.last; n++) {
    const ip = intToIp(n);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}
