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
 */
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { AllowedIps, formatPrefix, parsePrefix, type Prefix } from "./allowed-ips.js";
import {
  KEEPALIVE_TIMEOUT,
  Keypair,
  REJECT_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_TIMEOUT,
} from "./keypair.js";
import {
  COOKIE_REPLY_LEN,
  COOKIE_SECRET_MAX_AGE_MS,
  CookieChecker,
  INITIATION_LEN,
  MSG_COOKIE_REPLY,
  MSG_INITIATION,
  MSG_RESPONSE,
  MSG_TRANSPORT,
  RESPONSE_LEN,
  StaticKey,
  TRANSPORT_MIN_LEN,
  checkMac1,
  consumeCookieReply,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  decodeKey,
  sourceBytes,
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
  type TimerName,
  type Timing,
} from "./peer.js";

/** Callers keep importing the device's option and status shapes from here. */
export { DEFAULT_TIMING };
export type { DeviceOptions, DeviceStats, PacketHandler, PeerConfig, PeerInfo, PeerStatus, Timing };

/** Minimum spacing of initiations accepted from one peer (flood protection). */
const MIN_INITIATION_INTERVAL_MS = 20;
/** Under load, per source IP: token bucket of handshake messages. */
const RATE_PER_IP = 20;
const RATE_BURST = 5;
/** Once under load, stay so for this long after the last overload second. */
const UNDER_LOAD_HOLD_MS = 1_000;

/** Socket buffer size asked for (both directions); see listen(). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

export class WireGuardDevice {
  readonly key: StaticKey;
  private readonly timing: Timing;
  private readonly mtu: number;
  private readonly underLoadThreshold: number;
  private readonly queueLimit: number;
  private readonly log: (event: string, detail?: Record<string, unknown>) => void;
  private readonly cookies: CookieChecker;

  private readonly peersByKey = new Map<string, Peer>();
  private readonly routes = new AllowedIps<Peer>();
  private readonly indexes = new Map<number, IndexEntry>();
  private readonly handlers: PacketHandler[] = [];
  private socket: dgram.Socket | null = null;
  private closed = false;

  private loadWindowStart = 0;
  private loadCount = 0;
  private underLoadUntil = 0;
  private readonly ipBuckets = new Map<string, { tokens: number; at: number }>();

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
    this.underLoadThreshold = opts.underLoadThreshold ?? 200;
    this.queueLimit = opts.queueLimit ?? 1024;
    this.log = opts.log ?? (() => {});
    this.cookies = new CookieChecker(this.key);
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

  private sendData(peer: Peer, kp: Keypair, ipPacket: Buffer, now: number): void {
    const msg = kp.encrypt(ipPacket, this.mtu);
    if (!msg) {
      this.drop("counter-exhausted");
      this.initiateHandshake(peer, false);
      return;
    }
    this.transmit(peer, msg);
    this.anyAuthenticatedPacketSent(peer);
    if (ipPacket.length > 0) this.dataSent(peer);
    // keep-key-fresh (sending): only the session's initiator rekeys on age.
    if (
      kp.sendCounter > this.timing.rekeyAfterMessages ||
      (kp.isInitiator && now - kp.created > this.timing.rekeyAfterTime)
    ) {
      this.initiateHandshake(peer, false);
    }
  }

  private flushQueue(peer: Peer): void {
    const now = Date.now();
    while (peer.queue.length > 0) {
      const kp = peer.current;
      if (!kp || !kp.canSend(now)) return;
      this.sendData(peer, kp, peer.queue.shift()!, now);
    }
  }

  private sendKeepalive(peer: Peer): void {
    const now = Date.now();
    const kp = peer.current;
    if (kp && kp.canSend(now)) {
      if (peer.queue.length > 0) this.flushQueue(peer);
      else this.sendData(peer, kp, Buffer.alloc(0), now);
    } else {
      this.initiateHandshake(peer, false);
    }
  }

  private transmit(peer: Peer | null, msg: Buffer, to?: Endpoint): void {
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
      this.anyAuthenticatedPacketTraversal(peer);
    }
  }

  // ------------------------------------------------------------ handshake (initiator)

  private initiateHandshake(peer: Peer, isRetry: boolean): void {
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
    this.setTimer(peer, "retransmit", this.timing.rekeyTimeout + this.jitter(), () =>
      this.initiateHandshake(peer, true),
    );
  }

  private dropHandshake(peer: Peer): void {
    if (peer.handshake) {
      this.indexes.delete(peer.handshake.localIndex);
      peer.handshake = null;
    }
  }

  // ------------------------------------------------------------ receiving

  /** Entry point for one UDP datagram. Exposed for tests and alternative transports. */
  receive(msg: Buffer, from: Endpoint): void {
    if (this.closed) return;
    this.stats.rxDatagrams++;
    try {
      if (msg.length < 4 || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return this.drop("malformed");
      switch (msg[0]) {
        case MSG_TRANSPORT:
          return this.receiveTransport(msg, from);
        case MSG_INITIATION:
          return this.receiveInitiation(msg, from);
        case MSG_RESPONSE:
          return this.receiveResponse(msg, from);
        case MSG_COOKIE_REPLY:
          return this.receiveCookieReply(msg);
        default:
          return this.drop("unknown-type");
      }
    } catch (err) {
      this.log("receive-error", { message: (err as Error).message });
      this.drop("internal-error");
    }
  }

  private underLoad(now: number): boolean {
    if (now - this.loadWindowStart >= 1000) {
      this.loadWindowStart = now;
      this.loadCount = 0;
    }
    this.loadCount++;
    if (this.loadCount > this.underLoadThreshold) this.underLoadUntil = now + UNDER_LOAD_HOLD_MS;
    return now < this.underLoadUntil;
  }

  /** mac1, and under load mac2 + per-IP rate limit. Returns true to proceed. */
  private admitHandshake(msg: Buffer, from: Endpoint): boolean {
    if (!checkMac1(msg, this.key.mac1Key)) {
      this.drop("bad-mac1");
      return false;
    }
    const now = Date.now();
    if (!this.underLoad(now)) return true;
    const src = sourceBytes(from.address, from.port);
    if (!this.cookies.checkMac2(msg, src)) {
      this.transmit(null, this.cookies.createReply(msg, src), from);
      this.stats.cookieRepliesSent++;
      this.drop("cookie-required");
      return false;
    }
    // Valid mac2: the source address is real; rate-limit it.
    const ipKey = from.address;
    const b = this.ipBuckets.get(ipKey) ?? { tokens: RATE_BURST, at: now };
    b.tokens = Math.min(RATE_BURST, b.tokens + ((now - b.at) / 1000) * RATE_PER_IP);
    b.at = now;
    this.ipBuckets.set(ipKey, b);
    if (this.ipBuckets.size > 4096) {
      for (const [k, v] of this.ipBuckets) if (now - v.at > 1000) this.ipBuckets.delete(k);
    }
    if (b.tokens < 1) {
      this.drop("rate-limited");
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  private receiveInitiation(msg: Buffer, from: Endpoint): void {
    if (msg.length !== INITIATION_LEN) return this.drop("malformed");
    if (!this.admitHandshake(msg, from)) return;
    const init = consumeInitiation(this.key, msg);
    if (!init) return this.drop("bad-initiation");
    const peer = this.peersByKey.get(init.remoteStatic.toString("base64"));
    if (!peer) return this.drop("unknown-peer");
    const now = Date.now();
    if (peer.lastTimestamp && Buffer.compare(init.timestamp, peer.lastTimestamp) <= 0) {
      return this.drop("replayed-initiation");
    }
    if (now - peer.lastInitiationConsumed < MIN_INITIATION_INTERVAL_MS) return this.drop("initiation-flood");
    peer.lastTimestamp = init.timestamp;
    peer.lastInitiationConsumed = now;
    peer.rxBytes += msg.length;

    const index = this.newIndex();
    const resp = createResponse(init, index, peer.psk);
    if (!resp) return this.drop("bad-initiation");
    peer.endpoint = from; // roaming: authenticated initiation
    const cookieFresh = peer.cookie && now - peer.cookieReceived < COOKIE_SECRET_MAX_AGE_MS - this.timing.rekeyTimeout;
    peer.lastMac1 = writeMacs(resp.message, peer.mac1Key, cookieFresh ? peer.cookie : null);
    const kp = new Keypair(resp.keys.send, resp.keys.receive, false, index, init.remoteIndex, now, {
      rejectAfterTime: this.timing.rejectAfterTime,
      rejectAfterMessages: this.timing.rejectAfterMessages,
    });
    // Responder: the new session waits in `next` until the initiator's first data confirms it.
    if (peer.next) this.indexes.delete(peer.next.localIndex);
    peer.next = kp;
    this.indexes.set(index, { peer, keypair: kp });
    this.transmit(peer, resp.message);
    this.sessionDerived(peer);
    this.log("handshake-response-sent", { peer: peer.info.publicKey });
  }

  private receiveResponse(msg: Buffer, from: Endpoint): void {
    if (msg.length !== RESPONSE_LEN) return this.drop("malformed");
    if (!this.admitHandshake(msg, from)) return;
    const entry = this.indexes.get(msg.readUInt32LE(8));
    if (!entry || !entry.handshake) return this.drop("unknown-index");
    const { peer, handshake } = entry;
    const res = consumeResponse(this.key, handshake, msg);
    if (!res) return this.drop("bad-response");
    const now = Date.now();
    peer.handshake = null;
    peer.endpoint = from;
    peer.rxBytes += msg.length;
    const kp = new Keypair(res.keys.send, res.keys.receive, true, handshake.localIndex, res.remoteIndex, now, {
      rejectAfterTime: this.timing.rejectAfterTime,
      rejectAfterMessages: this.timing.rejectAfterMessages,
    });
    this.indexes.set(handshake.localIndex, { peer, keypair: kp });
    // Initiator: the new session is confirmed and becomes current at once.
    if (peer.previous) this.indexes.delete(peer.previous.localIndex);
    if (peer.next) {
      peer.previous = peer.next;
      peer.next = null;
      if (peer.current) this.indexes.delete(peer.current.localIndex);
    } else {
      peer.previous = peer.current;
    }
    peer.current = kp;
    peer.sentLastMinuteHandshake = false;
    peer.lastHandshake = now;
    this.stats.handshakesCompleted++;
    this.clearTimer(peer, "retransmit");
    this.sessionDerived(peer);
    this.anyAuthenticatedPacketReceived(peer);
    this.anyAuthenticatedPacketTraversal(peer);
    // Confirm the session to the responder: queued data, or a keepalive.
    if (peer.queue.length > 0) this.flushQueue(peer);
    else this.sendData(peer, kp, Buffer.alloc(0), now);
  }

  private receiveCookieReply(msg: Buffer): void {
    if (msg.length !== COOKIE_REPLY_LEN) return this.drop("malformed");
    const entry = this.indexes.get(msg.readUInt32LE(4));
    if (!entry) return this.drop("unknown-index");
    const { peer } = entry;
    if (!peer.lastMac1) return this.drop("unexpected-cookie");
    const cookie = consumeCookieReply(msg, peer.cookieKey, peer.lastMac1);
    if (!cookie) return this.drop("bad-cookie");
    peer.cookie = cookie;
    peer.cookieReceived = Date.now();
    peer.lastMac1 = null; // one cookie per sent message
    // The retransmit timer resends the initiation, now with mac2.
  }

  private receiveTransport(msg: Buffer, from: Endpoint): void {
    if (msg.length < TRANSPORT_MIN_LEN) return this.drop("malformed");
    const entry = this.indexes.get(msg.readUInt32LE(4));
    if (!entry || !entry.keypair) return this.drop("unknown-index");
    const { peer, keypair: kp } = entry;
    const now = Date.now();
    if (!kp.canReceive(now)) return this.drop("expired-session");
    const counter = Keypair.counterOf(msg);
    if (counter === null || !kp.replay.check(counter)) return this.drop("replay");
    const plain = kp.decrypt(msg, now);
    if (!plain) return this.drop("bad-transport");
    peer.endpoint = from; // roaming: latest authenticated packet
    peer.rxBytes += msg.length;
    if (kp === peer.next) {
      // Key confirmation of a session we answered: rotate it in.
      if (peer.previous) this.indexes.delete(peer.previous.localIndex);
      peer.previous = peer.current;
      peer.current = kp;
      peer.next = null;
      peer.lastHandshake = now;
      peer.sentLastMinuteHandshake = false;
      this.stats.handshakesCompleted++;
      this.clearTimer(peer, "retransmit");
      this.dropHandshake(peer);
      this.flushQueue(peer);
    }
    this.anyAuthenticatedPacketReceived(peer);
    this.anyAuthenticatedPacketTraversal(peer);
    // keep-key-fresh (receiving): the initiator rekeys shortly before REJECT_AFTER_TIME.
    if (
      kp === peer.current &&
      kp.isInitiator &&
      !peer.sentLastMinuteHandshake &&
      now - kp.created > this.timing.rejectAfterTime - this.timing.keepaliveTimeout - this.timing.rekeyTimeout
    ) {
      peer.sentLastMinuteHandshake = true;
      this.initiateHandshake(peer, false);
    }
    if (plain.length === 0) return; // keepalive
    const packet = this.checkInner(peer, plain);
    if (!packet) return;
    this.dataReceived(peer);
    for (const h of this.handlers) {
      try {
        h(peer.info, packet);
      } catch (err) {
        this.log("handler-error", { message: (err as Error).message });
      }
    }
  }

  /** Validates an inner IP packet and its source against the peer's allowed IPs; trims padding. */
  private checkInner(peer: Peer, plain: Buffer): Buffer | null {
    const version = plain[0]! >> 4;
    let len: number;
    let src: Buffer;
    if (version === 4) {
      if (plain.length < 20) return this.dropNull("inner-malformed");
      len = plain.readUInt16BE(2);
      if (len < 20 || len > plain.length) return this.dropNull("inner-malformed");
      src = plain.subarray(12, 16);
    } else if (version === 6) {
      if (plain.length < 40) return this.dropNull("inner-malformed");
      len = 40 + plain.readUInt16BE(4);
      if (len > plain.length) return this.dropNull("inner-malformed");
      src = plain.subarray(8, 24);
    } else {
      return this.dropNull("inner-malformed");
    }
    if (this.routes.lookup(src) !== peer) return this.dropNull("allowed-ips");
    return plain.subarray(0, len);
  }

  // ------------------------------------------------------------ timers (whitepaper §6)

  private setTimer(peer: Peer, name: TimerName, ms: number, fn: () => void): void {
    this.clearTimer(peer, name);
    const t = setTimeout(() => {
      peer.timers.delete(name);
      if (this.closed) return;
      try {
        fn();
      } catch (err) {
        this.log("timer-error", { timer: name, message: (err as Error).message });
      }
    }, ms);
    t.unref();
    peer.timers.set(name, t);
  }

  private clearTimer(peer: Peer, name: TimerName): void {
    const t = peer.timers.get(name);
    if (t) {
      clearTimeout(t);
      peer.timers.delete(name);
    }
  }

  /** Data sent: expect an answer within KEEPALIVE + REKEY_TIMEOUT, else re-handshake. */
  private dataSent(peer: Peer): void {
    if (peer.timers.has("newHandshake")) return;
    this.setTimer(
      peer,
      "newHandshake",
      this.timing.keepaliveTimeout + this.timing.rekeyTimeout + this.jitter(),
      () => this.initiateHandshake(peer, false),
    );
  }

  /** Data received: if we have nothing to say within KEEPALIVE_TIMEOUT, send a keepalive. */
  private dataReceived(peer: Peer): void {
    if (peer.timers.has("sendKeepalive")) return;
    this.setTimer(peer, "sendKeepalive", this.timing.keepaliveTimeout, () => {
      const kp = peer.current;
      if (kp && kp.canSend(Date.now())) this.sendData(peer, kp, Buffer.alloc(0), Date.now());
    });
  }

  private anyAuthenticatedPacketSent(peer: Peer): void {
    this.clearTimer(peer, "sendKeepalive");
  }

  private anyAuthenticatedPacketReceived(peer: Peer): void {
    this.clearTimer(peer, "newHandshake");
  }

  private anyAuthenticatedPacketTraversal(peer: Peer): void {
    if (peer.persistentKeepalive > 0) {
      this.setTimer(peer, "persistentKeepalive", peer.persistentKeepalive * 1000, () => this.sendKeepalive(peer));
    }
  }

  /** New session: all key material is erased after 3 × REJECT_AFTER_TIME without another. */
  private sessionDerived(peer: Peer): void {
    this.setTimer(peer, "zeroKeys", this.timing.rejectAfterTime * 3, () => this.wipeKeys(peer));
  }

  private wipeKeys(peer: Peer): void {
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

  /** Up to 333 ms at the default REKEY_TIMEOUT of 5 s (scaled with it). */
  private jitter(): number {
    return (Math.random() * this.timing.rekeyTimeout) / 15;
  }

  private newIndex(): number {
    for (;;) {
      const i = randomBytes(4).readUInt32LE(0);
      if (!this.indexes.has(i)) return i;
    }
  }

  private drop(reason: string, n = 1): void {
    if (n <= 0) return;
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + n;
  }

  private dropNull(reason: string): null {
    this.drop(reason);
    return null;
  }
}

function normalizeKey(k: string): string {
  try {
    return decodeKey(k).toString("base64");
  } catch {
    return k;
  }
}
