/**
 * From the decoded `gateway {}` block to running local transports: reads
 * the `proxy`, `forward` and `resolve` settings (already validated by
 * config/schema/checks.ts) into plain options, and starts the listeners
 * against one flow handler — the dispatcher, the same one WireGuard feeds.
 */
import type { DecodedSingleton } from "../../types/schema.js";
import type { FlowHandler } from "../flow.js";
import { ForwardListener } from "./forward.js";
import { ProxyListener } from "./proxy.js";
import type { LocalListener, TransportLogEvent } from "./listener.js";

/** One `proxy {}` block, device default applied. */
export interface ProxyConfig {
  listen: string;
  profile: string;
  device: string;
}

/** One `forward "<name>" {}` block, device default applied. */
export interface ForwardConfig extends ProxyConfig {
  name: string;
  to: string;
}

/** Everything the composition root needs to start the local transports. */
export interface LocalTransportConfig {
  proxies: ProxyConfig[];
  forwards: ForwardConfig[];
  /** `resolve` map, host name → IP literal (feed it to {@link StaticResolver}). */
  resolve: Record<string, string>;
}

function str(b: DecodedSingleton, name: string): string | undefined {
  const v = b.fields[name];
  return typeof v === "string" ? v : undefined;
}

/** Reads the local-transport settings of a (valid) `gateway {}` block, with device defaults applied. */
export function localTransportsOf(gateway: DecodedSingleton | undefined): LocalTransportConfig {
  const out: LocalTransportConfig = { proxies: [], forwards: [], resolve: {} };
  if (!gateway) return out;
  for (const p of gateway.blocks["proxy"] ?? []) {
    const listen = str(p, "listen") ?? "";
    out.proxies.push({ listen, profile: str(p, "profile") ?? "", device: str(p, "device") ?? `proxy:${listen}` });
  }
  for (const f of gateway.blocks["forward"] ?? []) {
    const name = f.labels[0] ?? "";
    out.forwards.push({
      name,
      listen: str(f, "listen") ?? "",
      to: str(f, "to") ?? "",
      profile: str(f, "profile") ?? "",
      device: str(f, "device") ?? `forward:${name}`,
    });
  }
  const resolve = gateway.fields["resolve"];
  if (resolve && typeof resolve === "object" && !Array.isArray(resolve) && !("range" in resolve)) {
    out.resolve = { ...(resolve as Record<string, string>) };
  }
  return out;
}

/**
 * Starts every configured proxy and forward listener. All or nothing: when
 * one fails to bind, those already started are closed and the error is
 * rethrown (a gateway that silently lacks a configured port is worse than
 * one that does not start).
 */
export async function startLocalTransports(
  cfg: LocalTransportConfig,
  handler: FlowHandler,
  onLog?: (e: TransportLogEvent) => void,
): Promise<LocalListener[]> {
  const listeners: LocalListener[] = [
    ...cfg.proxies.map((p) => new ProxyListener({ ...p, handler, ...(onLog ? { onLog } : {}) })),
    ...cfg.forwards.map((f) => new ForwardListener({ ...f, handler, ...(onLog ? { onLog } : {}) })),
  ];
  const started: LocalListener[] = [];
  try {
    for (const l of listeners) {
      await l.start();
      started.push(l);
    }
  } catch (err) {
    await Promise.all(started.map((l) => l.close()));
    throw err;
  }
  return started;
}
