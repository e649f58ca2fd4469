/**
 * A userspace WireGuard device on a node:dgram socket: peer table, index
 * table, handshakes in both roles, sessions (previous/current/next keypairs),
 * the timer state machine of whitepaper §6, cookie replies under load,
 * roaming, and the cryptokey-routing check on every decrypted packet.
 *
 * Decrypted inner IP packets go to {@link WireGuardDevice.onPacket}
 * handlers; {@link WireGuardDevice.send} encrypts toward a peer, queueing
 * (bounded) while a handshake is pending. Hostile datagrams never throw:
 * they are dropped and counted in {@link WireGuardDevice.stats}.
 *
 * This file is the device itself: its lifecycle, the peer table, the send
 * path and the initiator's side of the handshake. Incoming datagrams are
 * handled in ./receive.ts and the whitepaper §6 timers in ./timers.ts; the
 * members they use are marked @internal (not for callers of the device).
 */
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { AllowedIps, formatPrefix, parsePrefix, type Prefix } from "./allowed-ips.js";
import type { Keypair } from "./keypair.js";
import {
  COOKIE_SECRET_MAX_AGE_MS,
  CookieChecker,
  StaticKey,
  createInitiation,
  decodeKey,
  writeMacs,
} from "./noise.js";
import {
  DEFAULT_TIMING,
  formatEndpoint,
  parseEndpoint,
  Peer,
  type DeviceOptions,
  type DeviceStats,
  type Endpoint,
  type IndexEntry,
  type PacketHandler,
  type PeerConfig,
  type PeerInfo,
  type PeerStatus,
  type Timing,
} from "./peer.js";
import { HandshakeLimiter, receiveDatagram } from "./receive.js";
import { anyAuthenticatedPacketSent, anyAuthenticatedPacketTraversal, dataSent, jitter, setTimer } from "./timers.js";

/** Callers keep importing the device's option and status shapes from here. */
export { DEFAULT_TIMING };
export type { DeviceOptions, DeviceStats, PacketHandler, PeerConfig, PeerInfo, PeerStatus, Timing };

/** Socket buffer size asked for (both directions); see listen(). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

export class WireGuardDevice {
  readonly key: StaticKey;
  /** @internal */ readonly timing: Timing;
  private readonly mtu: number;
  private readonly queueLimit: number;
  /** @internal */ readonly log: (event: string, detail?: Record<string, unknown>) => void;
  /** @internal */ readonly cookies: CookieChecker;
  /** @internal */ readonly limiter: HandshakeLimiter;

  /** @internal */ readonly peersByKey = new Map<string, Peer>();
  /** @internal */ readonly routes = new AllowedIps<Peer>();
  /** @internal */ readonly indexes = new Map<number, IndexEntry>();
  /** @internal */ readonly handlers: PacketHandler[] = [];
  private socket: dgram.Socket | null = null;
  /** @internal */ closed = false;

  readonly stats: DeviceStats = {
    rxDatagrams: 0,
    txDatagrams: 0,
    handshakesCompleted: 0,
    cookieRepliesSent: 0,
    dropped: {},
  };

  constructor(opts: DeviceOptions) {
    const raw = typeof opts.privateKey === "string" ? decodeKey(opts.privateKey) : Buffer.from(opts.privateKey);
    this.key = new StaticKey(raw);
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.mtu = opts.mtu ?? 1420;
    this.queueLimit = opts.queueLimit ?? 1024;
    this.log = opts.log ?? (() => {});
    this.cookies = new CookieChecker(this.key);
    this.limiter = new HandshakeLimiter(opts.underLoadThreshold ?? 200);
  }

  /** Our public key, base64. */
  get publicKey(): string {
    return this.key.publicKeyBase64;
  }

  /** The bound UDP port, or null before listen(). */
  get port(): number | null {
    return this.socket ? this.socket.address().port : null;
  }

  // ------------------------------------------------------------ lifecycle

  /** Binds the UDP socket. host defaults to 0.0.0.0; an IPv6 host binds udp6. Resolves to the port. */
  listen(port: number, host = "0.0.0.0"): Promise<number> {
    if (this.socket) return Promise.reject(new Error("WireGuard device already listening"));
    if (this.closed) return Promise.reject(new Error("WireGuard device closed"));
    const sock = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    this.socket = sock;
    sock.on("message", (msg, rinfo) => this.receive(msg, { address: rinfo.address, port: rinfo.port }));
    sock.on("error", (err) => this.log("socket-error", { message: err.message }));
    return new Promise((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(port, host, () => {
        sock.off("error", reject);
        // Clients send in bursts; the default ~200 KiB receive buffer overflows and every drop
        // costs a TCP retransmission inside the tunnel. The kernel caps this at net.core.rmem_max.
        for (const set of [() => sock.setRecvBufferSize(UDP_BUFFER_BYTES), () => sock.setSendBufferSize(UDP_BUFFER_BYTES)]) {
          try {
            set();
          } catch (e) {
            this.log("socket-buffer", { message: (e as Error).message });
          }
        }
        for (const peer of this.peersByKey.values()) {
          if (peer.persistentKeepalive > 0 && peer.endpoint) this.sendKeepalive(peer);
        }
        resolve(sock.address().port);
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peersByKey.values()) this.wipePeer(peer);
    this.peersByKey.clear();
    this.indexes.clear();
    try {
      this.socket?.close();
    } catch {
      /* already closed */
    }
    this.socket = null;
  }

  // ------------------------------------------------------------ peers

  addPeer(cfg: PeerConfig): PeerInfo {
    const pub = decodeKey(cfg.publicKey);
    if (pub.equals(this.key.publicKey)) throw new Error("a peer cannot have the device's own public key");
    const prefixes: Prefix[] = [];
    for (const c of cfg.allowedIps) {
      const p = parsePrefix(c);
      if (!p) throw new Error(`invalid allowed IP ${JSON.stringify(c)}`);
      prefixes.push(p);
    }
    const psk = cfg.presharedKey ? decodeKey(cfg.presharedKey) : Buffer.alloc(32);
    const endpoint = cfg.endpoint ? parseEndpoint(cfg.endpoint) : null;
    const b64 = pub.toString("base64");
    let peer = this.peersByKey.get(b64);
    if (peer && peer.info.name !== cfg.name) {
      this.removePeer(b64);
      peer = undefined;
    }
    if (!peer) {
      peer = new Peer(pub, cfg.name, psk);
      this.peersByKey.set(b64, peer);
    } else {
      peer.psk = psk;
      this.routes.removeOwner(peer);
    }
    for (const p of prefixes) this.routes.insert(p, peer);
    if (endpoint) peer.endpoint = endpoint;
    peer.persistentKeepalive = Math.max(0, Math.floor(cfg.persistentKeepalive ?? 0));
    if (peer.persistentKeepalive > 0 && peer.endpoint) this.sendKeepalive(peer);
    return peer.info;
  }

  removePeer(publicKey: string): boolean {
    const peer = this.peersByKey.get(normalizeKey(publicKey));
    if (!peer) return false;
    this.wipePeer(peer);
    this.routes.removeOwner(peer);
    this.peersByKey.delete(peer.info.publicKey);
    return true;
  }

  peers(): PeerStatus[] {
    const now = Date.now();
    return [...this.peersByKey.values()].map((p) => ({
      publicKey: p.info.publicKey,
      name: p.info.name,
      endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
      allowedIps: this.routes.prefixesOf(p).map(formatPrefix),
      lastHandshake: p.lastHandshake,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      persistentKeepalive: p.persistentKeepalive,
      hasSession: !!p.current && p.current.canSend(now),
    }));
  }

  /** The peer whose allowed IPs route `address` (longest prefix), if any. */
  peerFor(address: Uint8Array): PeerInfo | undefined {
    return this.routes.lookup(address)?.info;
  }

  onPacket(handler: PacketHandler): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  // ------------------------------------------------------------ sending

  /**
   * Encrypts an IP packet to a peer. Without a usable session the packet is
   * queued (bounded; oldest dropped) and a handshake is started when the
   * peer's endpoint is known. Returns false if the peer is unknown.
   */
  send(peerPublicKey: string, ipPacket: Buffer): boolean {
    const peer = this.peersByKey.get(normalizeKey(peerPublicKey));
    if (!peer || this.closed) return false;
    const now = Date.now();
    const kp = peer.current;
    if (kp && kp.canSend(now) && peer.queue.length === 0) {
      this.sendData(peer, kp, ipPacket, now);
      return true;
    }
    peer.queue.push(ipPacket);
    if (peer.queue.length > this.queueLimit) {
      peer.queue.shift();
      this.drop("queue-full");
    }
    if (kp && kp.canSend(now)) {
      this.flushQueue(peer);
      return true;
    }
    // A fresh unconfirmed responder session: the initiator's first packet will confirm it.
    if (peer.next && now - peer.next.created < this.timing.rekeyTimeout) return true;
    this.initiateHandshake(peer, false);
    return true;
  }

  /** @internal */
  sendData(peer: Peer, kp: Keypair, ipPacket: Buffer, now: number): void {
    const msg = kp.encrypt(ipPacket, this.mtu);
    if (!msg) {
      this.drop("counter-exhausted");
      this.initiateHandshake(peer, false);
      return;
    }
    this.transmit(peer, msg);
    anyAuthenticatedPacketSent(peer);
    if (ipPacket.length > 0) dataSent(this, peer);
    // keep-key-fresh (sending): only the session's initiator rekeys on age.
    if (
      kp.sendCounter > this.timing.rekeyAfterMessages ||
      (kp.isInitiator && now - kp.created > this.timing.rekeyAfterTime)
    ) {
      this.initiateHandshake(peer, false);
    }
  }

  /** @internal */
  flushQueue(peer: Peer): void {
    const now = Date.now();
    while (peer.queue.length > 0) {
      const kp = peer.current;
      if (!kp || !kp.canSend(now)) return;
      this.sendData(peer, kp, peer.queue.shift()!, now);
    }
  }

  /** @internal */
  sendKeepalive(peer: Peer): void {
    const now = Date.now();
    const kp = peer.current;
    if (kp && kp.canSend(now)) {
      if (peer.queue.length > 0) this.flushQueue(peer);
      else this.sendData(peer, kp, Buffer.alloc(0), now);
    } else {
      this.initiateHandshake(peer, false);
    }
  }

  /** @internal */
  transmit(peer: Peer | null, msg: Buffer, to?: Endpoint): void {
    const ep = to ?? peer?.endpoint;
    const sock = this.socket;
    if (!ep || !sock) {
      this.drop("no-endpoint");
      return;
    }
    try {
      sock.send(msg, ep.port, ep.address, (err) => {
        if (err) this.drop("send-error");
      });
      this.stats.txDatagrams++;
    } catch {
      this.drop("send-error");
    }
    if (peer) {
      peer.txBytes += msg.length;
      anyAuthenticatedPacketTraversal(this, peer);
    }
  }

  // ------------------------------------------------------------ handshake (initiator)

  /** @internal */
  initiateHandshake(peer: Peer, isRetry: boolean): void {
    if (this.closed || !this.socket || !peer.endpoint) return;
    const now = Date.now();
    if (!isRetry) {
      if (now - peer.lastInitiationSent < this.timing.rekeyTimeout) return;
      peer.attemptsStarted = now;
    } else if (now - peer.attemptsStarted >= this.timing.rekeyAttemptTime) {
      // Give up: REKEY_ATTEMPT_TIME elapsed without a response.
      this.log("handshake-gave-up", { peer: peer.info.publicKey });
      this.dropHandshake(peer);
      this.drop("queue-expired", peer.queue.length);
      peer.queue = [];
      return;
    }
    this.dropHandshake(peer);
    const index = this.newIndex();
    const init = createInitiation(this.key, peer.publicKey, index, { psk: peer.psk });
    if (!init) return;
    const cookieFresh = peer.cookie && now - peer.cookieReceived < COOKIE_SECRET_MAX_AGE_MS - this.timing.rekeyTimeout;
    peer.lastMac1 = writeMacs(init.message, peer.mac1Key, cookieFresh ? peer.cookie : null);
    peer.handshake = init.state;
    this.indexes.set(index, { peer, handshake: init.state });
    peer.lastInitiationSent = now;
    this.transmit(peer, init.message);
    setTimer(this, peer, "retransmit", this.timing.rekeyTimeout + jitter(this.timing), () =>
      this.initiateHandshake(peer, true),
    );
  }

  /** @internal */
  dropHandshake(peer: Peer): void {
    if (peer.handshake) {
      this.indexes.delete(peer.handshake.localIndex);
      peer.handshake = null;
    }
  }

  // ------------------------------------------------------------ receiving

  /** Entry point for one UDP datagram. Exposed for tests and alternative transports. */
  receive(msg: Buffer, from: Endpoint): void {
    receiveDatagram(this, msg, from);
  }

  // ------------------------------------------------------------ sessions

  /** @internal */
  wipeKeys(peer: Peer): void {
    for (const kp of [peer.previous, peer.current, peer.next]) if (kp) this.indexes.delete(kp.localIndex);
    peer.previous = peer.current = peer.next = null;
    this.dropHandshake(peer);
    peer.queue = [];
  }

  private wipePeer(peer: Peer): void {
    for (const t of peer.timers.values()) clearTimeout(t);
    peer.timers.clear();
    this.wipeKeys(peer);
  }

  // ------------------------------------------------------------ helpers

  /** @internal */
  newIndex(): number {
    for (;;) {
      const i = randomBytes(4).readUInt32LE(0);
      if (!this.indexes.has(i)) return i;
    }
  }

  /** @internal */
  drop(reason: string, n = 1): void {
    if (n <= 0) return;
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + n;
  }
}

function normalizeKey(k: string): string {
  try {
    return decodeKey(k).toString("base64");
  } catch {
    return k;
  }
}
