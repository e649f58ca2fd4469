/**
 * Flows: the seam between transports and the dispatcher (ARCHITECTURE §2).
 *
 * Every transport — the local `proxy` (SOCKS5 / HTTP CONNECT) and `forward`
 * listeners today, the WireGuard netstack and Tailscale later — turns an
 * agent connection into a {@link Flow}: a byte stream plus the destination
 * the agent meant to reach and who the agent is. The dispatcher never knows
 * which transport a flow came from, so there is exactly one code path from
 * a connection to a verdict.
 */
import type { Duplex } from "node:stream";

/** Where the agent meant to connect. */
export interface Destination {
  /**
   * A host name (SOCKS5 remote DNS, HTTP CONNECT, a forward's `to`) or an IP
   * literal (WireGuard: the original destination address). IPv6 without
   * brackets.
   */
  host: string;
  port: number;
}

/** Which transport produced a flow (for logs and audit; never for routing). */
export type TransportKind = "proxy" | "forward" | "wireguard" | "tailscale";

export interface Flow {
  /** Unique per flow, for logs and audit correlation. */
  id: string;
  /**
   * The agent-side byte stream (a socket, or a netstack connection). It may
   * arrive paused, with bytes already read (a proxy handshake's leftovers,
   * the dispatcher's ClientHello peek) pushed back with `unshift`: consume
   * it with `pipe()` or call `resume()` — a `'data'` listener alone does not
   * restart an explicitly paused stream.
   */
  stream: Duplex;
  /** The destination the agent asked for. */
  destination: Destination;
  /** Device identity (tunnel peer / transport name) and the profile it maps to. */
  device: string;
  profile: string;
  transport: TransportKind;
  /** The agent's own address, when the transport knows it. */
  peer?: { address: string; port: number };
}

/** What a transport hands flows to (the dispatcher implements it). */
export interface FlowHandler {
  handleFlow(flow: Flow): void;
}

/**
 * Resolves upstream host names: the gateway's static `resolve` map first
 * (split-horizon and tests, like curl's --resolve), then the system
 * resolver. Returns the address to dial.
 */
export interface UpstreamResolver {
  resolve(host: string): Promise<string>;
}
