/**
 * DNS in the tunnel: virtual addresses for names that need them, routing of
 * flows aimed at those addresses, and the UDP/TCP 53 responder. See
 * docs/wireguard.md ("DNS in the tunnel").
 */
export {
  DEFAULT_VIRTUAL_RANGE,
  VirtualIps,
  needsVirtualIp,
  virtualNamesOf,
  wireguardSubnetsOf,
  type VirtualIpStore,
  type VirtualIpsOptions,
} from "./virtual-ips.js";
export { combineLookups, virtualAddressLookup, virtualAwareResolver, type VirtualNames } from "./lookup.js";
export { createTunnelDns, type TunnelDns, type TunnelDnsForwardOptions, type TunnelDnsOptions } from "./responder.js";
export { parseDnsServer, systemNameserver, type DnsServer } from "./forward.js";
export { serveTunnelDns, type DnsListener } from "./serve.js";
