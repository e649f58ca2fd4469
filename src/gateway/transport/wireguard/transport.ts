/**
 * The gateway's WireGuard transport (`gateway { wireguard { ... } }`): the
 * userspace {@link WireGuardDevice} on `listen_port`, one userspace netstack
 * per peer, and the routing of what comes out of the stacks:
 *
 * - a TCP connection to any address outside the tunnel subnet becomes a
 *   {@link Flow} to its original destination, attributed to the *peer's*
 *   device and profile (never to anything the packet says);
 * - TCP/UDP port 53 on the gateway's tunnel address goes to the injected
 *   DNS handler (closed / dropped when there is none);
 * - TCP on the dashboard port of the gateway's tunnel address goes to the
 *   injected agent-facing HTTP handler (CA, /info, enrollment status — never
 *   the management API; the composition root decides what that serves);
 * - everything else to the gateway's tunnel address, and any traffic to
 *   other tunnel addresses (device to device), is refused; other UDP is
 *   dropped (counted in `stats.udpDropped`): the dispatcher routes TCP only.
 *
 * Peers are the `active` devices with a public key and an address in the
 * subnet. The set is re-read on every devices-table write (change hook) and
 * polled every few seconds (writes by another process). A device that is
 * pending, blocked or deleted is not a peer: the device drops its packets
 * before decryption (`unknown-peer`), and blocking a live peer resets its
 * connections.
 */
import { randomUUID } from "node:crypto";
import type { Flow, FlowHandler } from "../../flow.js";
import type { NetStack, NetStackOptions, TcpConnection, UdpDatagram } from "../netstack/api.js";
import { createNetStack } from "../netstack/stack.js";
import { WireGuardDevice, type DeviceOptions } from "./device.js";
import { generateKeyBase64, publicKeyFromPrivate } from "./noise.js";
import { inSubnet, parseSubnet, type Subnet } from "./subnet.js";

/** Settings key of the server's private key (never logged, never served). */
export const PRIVATE_KEY_SETTING = "wireguard.private_key";

/** Who is on the other end of a tunnel connection. */
export interface TunnelPeer {
  deviceId: string;
  /** Device name (flows' `device`). */
  device: string;
  profile: string;
  publicKey: string;
  /** The peer's tunnel address. */
  address: string;
}

/** The tunnel DNS responder (src/gateway/transport/dns/), injected. */
export interface TunnelDnsHandler {
  udp(datagram: UdpDatagram, peer: TunnelPeer): void;
  tcp(conn: TcpConnection, peer: TunnelPeer): void;
}

/** The rows the transport needs from the devices table. */
export interface PeerSource {
  active(): { id: string; name: string; profile: string; publicKey: string; address: string }[];
  onChange?(listener: () => void): () => void;
  touch?(id: string): void;
}

export interface WireGuardTransportOptions {
  /** `subnet_cidr`. */
  subnetCidr: string;
  listenPort: number;
  /** UDP bind address (default 0.0.0.0). */
  listenHost?: string;
  /** The server key store (the gateway's settings table). */
  settings: { get(key: string): string | undefined; setIfAbsent(key: string, value: string): string };
  peers: PeerSource;
  handler: FlowHandler;
  dns?: TunnelDnsHandler;
  /** Agent-facing HTTP on the gateway's tunnel address, port {@link agentHttpPort}. */
  agentHttp?: (conn: TcpConnection, peer: TunnelPeer) => void;
  agentHttpPort?: number;
  /** Peer-table poll interval (default 3 s). */
  pollMs?: number;
  /** Netstack factory (tests). */
  createStack?: (opts: NetStackOptions) => NetStack;
  device?: Omit<DeviceOptions, "privateKey">;
  log?: (msg: string, detail?: Record<string, unknown>) => void;
}

interface PeerEntry {
  peer: TunnelPeer;
  stack: NetStack;
  lastTouch: number;
}

export interface WireGuardTransportStats {
  flows: number;
  dnsUdp: number;
  dnsTcp: number;
  agentHttp: number;
  refused: number;
  udpDropped: number;
}

export class WireGuardTransport {
  readonly subnet: Subnet;
  readonly device: WireGuardDevice;
  readonly stats: WireGuardTransportStats = { flows: 0, dnsUdp: 0, dnsTcp: 0, agentHttp: 0, refused: 0, udpDropped: 0 };
  readonly #opts: WireGuardTransportOptions;
  readonly #entries = new Map<string, PeerEntry>();
  #unsubscribe: (() => void) | undefined;
  #poll: NodeJS.Timeout | undefined;
  #port = 0;
  #closed = false;

  constructor(opts: WireGuardTransportOptions) {
    this.#opts = opts;
    this.subnet = parseSubnet(opts.subnetCidr);
    const privateKey = opts.settings.get(PRIVATE_KEY_SETTING) ?? opts.settings.setIfAbsent(PRIVATE_KEY_SETTING, generateKeyBase64());
    this.device = new WireGuardDevice({ ...(opts.device ?? {}), privateKey });
    this.device.onPacket((peer, packet) => {
      const e = this.#entries.get(peer.publicKey);
      if (!e) return;
      e.stack.input(packet);
      const now = Date.now();
      if (now - e.lastTouch > 30_000) {
        e.lastTouch = now;
        try {
          opts.peers.touch?.(e.peer.deviceId);
        } catch {
          /* last-seen is best effort */
        }
      }
    });
  }

  /** The server's public key (base64), for client configs and /info. */
  get publicKey(): string {
    return this.device.publicKey;
  }

  /** The gateway's own tunnel address (first host of the subnet). */
  get address(): string {
    return this.subnet.gateway;
  }

  /** The bound UDP port. */
  get port(): number {
    return this.#port;
  }

  /** Current peers (for status and tests). */
  peers(): TunnelPeer[] {
    return [...this.#entries.values()].map((e) => e.peer);
  }

  async start(): Promise<number> {
    this.sync();
    this.#port = await this.device.listen(this.#opts.listenPort, this.#opts.listenHost ?? "0.0.0.0");
    this.#unsubscribe = this.#opts.peers.onChange?.(() => this.sync());
    this.#poll = setInterval(() => this.sync(), this.#opts.pollMs ?? 3000);
    this.#poll.unref();
    return this.#port;
  }

  /** Makes the device's peers match the active devices. */
  sync(): void {
    if (this.#closed) return;
    let rows: ReturnType<PeerSource["active"]>;
    try {
      rows = this.#opts.peers.active();
    } catch (e) {
      this.#log("cannot read devices; peers unchanged", { error: (e as Error).message });
      return;
    }
    const want = new Map<string, TunnelPeer>();
    for (const r of rows) {
      if (r.publicKey === "" || !inSubnet(this.subnet, r.address) || r.address === this.subnet.gateway) continue;
      if (publicKeyOk(r.publicKey) === false) continue;
      want.set(r.publicKey, { deviceId: r.id, device: r.name, profile: r.profile, publicKey: r.publicKey, address: r.address });
    }
    for (const [key, e] of this.#entries) {
      const w = want.get(key);
      if (!w || w.address !== e.peer.address || w.deviceId !== e.peer.deviceId) {
        this.device.removePeer(key);
        e.stack.close();
        this.#entries.delete(key);
        this.#log("wireguard peer removed", { device: e.peer.device, address: e.peer.address });
      } else {
        e.peer = w; // profile or name changes apply to the next flow
      }
    }
    for (const [key, peer] of want) {
      if (this.#entries.has(key)) continue;
      try {
        this.device.addPeer({ publicKey: key, allowedIps: [`${peer.address}/32`], name: peer.deviceId });
      } catch (e) {
        this.#log("cannot add wireguard peer", { device: peer.device, error: (e as Error).message });
        continue;
      }
      const entry: PeerEntry = { peer, stack: undefined as unknown as NetStack, lastTouch: 0 };
      entry.stack = (this.#opts.createStack ?? createNetStack)({
        output: (pkt) => this.device.send(key, pkt),
        onTcp: (conn) => this.#onTcp(entry, conn),
        onUdp: (d) => this.#onUdp(entry, d),
      });
      this.#entries.set(key, entry);
      this.#log("wireguard peer added", { device: peer.device, profile: peer.profile, address: peer.address });
    }
  }

  #onTcp(entry: PeerEntry, conn: TcpConnection): void {
    const peer = entry.peer;
    const dst = conn.localEndpoint;
    conn.on("error", () => conn.destroy());
    if (dst.address === this.subnet.gateway) {
      if (dst.port === 53 && this.#opts.dns) {
        this.stats.dnsTcp++;
        return this.#guard(conn, () => this.#opts.dns!.tcp(conn, peer));
      }
      if (dst.port === this.#opts.agentHttpPort && this.#opts.agentHttp) {
        this.stats.agentHttp++;
        return this.#guard(conn, () => this.#opts.agentHttp!(conn, peer));
      }
      this.stats.refused++;
      conn.destroy();
      return;
    }
    if (inSubnet(this.subnet, dst.address)) {
      // No device-to-device traffic through the gateway.
      this.stats.refused++;
      conn.destroy();
      return;
    }
    const flow: Flow = {
      id: randomUUID(),
      stream: conn,
      destination: { host: dst.address, port: dst.port },
      device: peer.device,
      profile: peer.profile,
      transport: "wireguard",
      peer: { address: conn.remoteEndpoint.address, port: conn.remoteEndpoint.port },
    };
    this.stats.flows++;
    this.#guard(conn, () => this.#opts.handler.handleFlow(flow));
  }

  #onUdp(entry: PeerEntry, d: UdpDatagram): void {
    if (d.dst.address === this.subnet.gateway && d.dst.port === 53 && this.#opts.dns) {
      this.stats.dnsUdp++;
      try {
        this.#opts.dns.udp(d, entry.peer);
      } catch (e) {
        this.#log("tunnel DNS handler threw", { error: (e as Error).message });
      }
      return;
    }
    this.stats.udpDropped++;
  }

  #guard(conn: TcpConnection, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log("tunnel connection handler threw", { error: (e as Error).message });
      conn.destroy();
    }
  }

  #log(msg: string, detail?: Record<string, unknown>): void {
    try {
      this.#opts.log?.(msg, detail);
    } catch {
      /* logging must not break the transport */
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    clearInterval(this.#poll);
    for (const e of this.#entries.values()) e.stack.close();
    this.#entries.clear();
    this.device.close();
  }
}

function publicKeyOk(key: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(key);
}

/** The public key for a stored private key (for callers that only have the settings). */
export function serverPublicKey(settings: { get(key: string): string | undefined }): string | undefined {
  const k = settings.get(PRIVATE_KEY_SETTING);
  return k ? publicKeyFromPrivate(k) : undefined;
}
