/** A standard `wg-quick` config for `clawpatrol join --whole-machine`. */
import type { ActiveState } from "./state.js";

export const DEFAULT_WG_QUICK_PATH = "/etc/wireguard/clawpatrol.conf";

export function wgQuickConfig(s: ActiveState): string {
  return `# Written by \`clawpatrol join --whole-machine\` (device ${s.name}, profile ${s.profile}).
# Bring up with: wg-quick up <this file>   (remove with: clawpatrol uninstall)
[Interface]
PrivateKey = ${s.privateKey}
Address = ${s.address}/32
DNS = ${(s.dns && s.dns.length > 0 ? s.dns : [s.gatewayAddress]).join(", ")}
MTU = 1420

[Peer]
PublicKey = ${s.gatewayPublicKey}
Endpoint = ${s.endpoint}
AllowedIPs = 0.0.0.0/0
PersistentKeepalive = 25
`;
}
