/**
 * From the decoded `gateway { wireguard {} }` block (validated by
 * config/schema/checks.ts) to the transport's plain settings.
 */
import type { DecodedSingleton } from "../../../types/schema.js";

export interface WireGuardConfig {
  subnetCidr: string;
  listenPort: number;
  /** "host:port" clients dial: `endpoint`, else the host of `public_url` and `listen_port`, else undefined. */
  endpoint: string | undefined;
  /** `server_pub`, when the operator pinned the advertised key. */
  serverPub: string | undefined;
}

export const DEFAULT_LISTEN_PORT = 51820;

/** The WireGuard settings of a valid `gateway {}` block; undefined when there is no `wireguard {}` block. */
export function wireguardConfigOf(gateway: DecodedSingleton | undefined): WireGuardConfig | undefined {
  const wg = gateway?.blocks["wireguard"]?.[0];
  if (!gateway || !wg) return undefined;
  const str = (b: DecodedSingleton, k: string) => (typeof b.fields[k] === "string" && b.fields[k] !== "" ? (b.fields[k] as string) : undefined);
  const port = typeof wg.fields.listen_port === "number" ? wg.fields.listen_port : DEFAULT_LISTEN_PORT;
  let endpoint = str(wg, "endpoint");
  const publicUrl = str(gateway, "public_url");
  if (!endpoint && publicUrl) {
    try {
      const host = new URL(publicUrl).hostname;
      if (host) endpoint = `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
    } catch {
      /* validated elsewhere */
    }
  }
  return { subnetCidr: str(wg, "subnet_cidr") ?? "", listenPort: port, endpoint, serverPub: str(wg, "server_pub") };
}
