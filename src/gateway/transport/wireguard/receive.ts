/**
 * The WireGuard device's receive side: one UDP datagram in, by message type.
 * Handshake initiations (answered as responder, the session waiting in
 * `next` until confirmed) and responses (the initiator's session installed
 * at once) pass the mac1 check and, under load, the mac2 / cookie-reply and
 * per-source rate limits first; cookie replies are stored for the next
 * initiation; transport data is replay-checked, decrypted, confirms a
 * responder session, rekeys when due, and its inner packet is checked
 * against the peer's allowed IPs (cryptokey routing) before the device's
 * packet handlers see it. Authenticated packets update the peer's endpoint
 * (roaming).
 *
 * Separate from ./device.ts (peer table, sending, initiating handshakes):
 * this is where hostile input arrives, so every message check reads in one
 * place. Plain functions over the device; nothing here throws to the socket.
 */
import type { WireGuardDevice } from "./device.js";
import { Keypair } from "./keypair.js";
import {
  COOKIE_REPLY_LEN,
  COOKIE_SECRET_MAX_AGE_MS,
  INITIATION_LEN,
  MSG_COOKIE_REPLY,
  MSG_INITIATION,
  MSG_RESPONSE,
  MSG_TRANSPORT,
  RESPONSE_LEN,
  TRANSPORT_MIN_LEN,
  checkMac1,
  consumeCookieReply,
  consumeInitiation,
  consumeResponse,
  createResponse,
  sourceBytes,
  writeMacs,
} from "./noise.js";
import type { Endpoint, Peer } from "./peer.js";
import {
  anyAuthenticatedPacketReceived,
  anyAuthenticatedPacketTraversal,
  clearTimer,
  dataReceived,
  sessionDerived,
} from "./timers.js";

/** Minimum spacing of initiations accepted from one peer (flood protection). */
const MIN_INITIATION_INTERVAL_MS = 20;
/** Under load, per source IP: token bucket of handshake messages. */
const RATE_PER_IP = 20;
const RATE_BURST = 5;
/** Once under load, stay so for this long after the last overload second. */
const UNDER_LOAD_HOLD_MS = 1_000;

/**
 * Handshake flood protection state: handshake messages per second tell
 * when the device is under load; under load, each source that proved its
 * address (valid mac2) gets a token bucket.
 */
export class HandshakeLimiter {
  private loadWindowStart = 0;
  private loadCount = 0;
  private underLoadUntil = 0;
  private readonly ipBuckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly underLoadThreshold: number) {}

  /** Counts one handshake message; true while the device is under load. */
  underLoad(now: number): boolean {
    if (now - this.loadWindowStart >= 1000) {
      this.loadWindowStart = now;
      this.loadCount = 0;
    }
    this.loadCount++;
    if (this.loadCount > this.underLoadThreshold) this.underLoadUntil = now + UNDER_LOAD_HOLD_MS;
    return now < this.underLoadUntil;
  }

  /** Takes a token from the source address's bucket; false when it is over its rate. */
  take(ipKey: string, now: number): boolean {
    const b = this.ipBuckets.get(ipKey) ?? { tokens: RATE_BURST, at: now };
    b.tokens = Math.min(RATE_BURST, b.tokens + ((now - b.at) / 1000) * RATE_PER_IP);
    b.at = now;
    this.ipBuckets.set(ipKey, b);
    if (this.ipBuckets.size > 4096) {
      for (const [k, v] of this.ipBuckets) if (now - v.at > 1000) this.ipBuckets.delete(k);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** One UDP datagram from `from` (see {@link WireGuardDevice.receive}). */
export function receiveDatagram(dev: WireGuardDevice, msg: Buffer, from: Endpoint): void {
  if (dev.closed) return;
  dev.stats.rxDatagrams++;
  try {
    if (msg.length < 4 || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return dev.drop("malformed");
    switch (msg[0]) {
      case MSG_TRANSPORT:
        return receiveTransport(dev, msg, from);
      case MSG_INITIATION:
        return receiveInitiation(dev, msg, from);
      case MSG_RESPONSE:
        return receiveResponse(dev, msg, from);
      case MSG_COOKIE_REPLY:
        return receiveCookieReply(dev, msg);
      default:
        return dev.drop("unknown-type");
    }
  } catch (err) {
    dev.log("receive-error", { message: (err as Error).message });
    dev.drop("internal-error");
  }
}

/** mac1, and under load mac2 + per-IP rate limit. Returns true to proceed. */
function admitHandshake(dev: WireGuardDevice, msg: Buffer, from: Endpoint): boolean {
  if (!checkMac1(msg, dev.key.mac1Key)) {
    dev.drop("bad-mac1");
    return false;
  }
  const now = Date.now();
  if (!dev.limiter.underLoad(now)) return true;
  const src = sourceBytes(from.address, from.port);
  if (!dev.cookies.checkMac2(msg, src)) {
    dev.transmit(null, dev.cookies.createReply(msg, src), from);
    dev.stats.cookieRepliesSent++;
    dev.drop("cookie-required");
    return false;
  }
  // Valid mac2: the source address is real; rate-limit it.
  if (!dev.limiter.take(from.address, now)) {
    dev.drop("rate-limited");
    return false;
  }
  return true;
}

function receiveInitiation(dev: WireGuardDevice, msg: Buffer, from: Endpoint): void {
  if (msg.length !== INITIATION_LEN) return dev.drop("malformed");
  if (!admitHandshake(dev, msg, from)) return;
  const init = consumeInitiation(dev.key, msg);
  if (!init) return dev.drop("bad-initiation");
  const peer = dev.peersByKey.get(init.remoteStatic.toString("base64"));
  if (!peer) return dev.drop("unknown-peer");
  const now = Date.now();
  if (peer.lastTimestamp && Buffer.compare(init.timestamp, peer.lastTimestamp) <= 0) {
    return dev.drop("replayed-initiation");
  }
  if (now - peer.lastInitiationConsumed < MIN_INITIATION_INTERVAL_MS) return dev.drop("initiation-flood");
  peer.lastTimestamp = init.timestamp;
  peer.lastInitiationConsumed = now;
  peer.rxBytes += msg.length;

  const index = dev.newIndex();
  const resp = createResponse(init, index, peer.psk);
  if (!resp) return dev.drop("bad-initiation");
  peer.endpoint = from; // roaming: authenticated initiation
  const cookieFresh = peer.cookie && now - peer.cookieReceived < COOKIE_SECRET_MAX_AGE_MS - dev.timing.rekeyTimeout;
  peer.lastMac1 = writeMacs(resp.message, peer.mac1Key, cookieFresh ? peer.cookie : null);
  const kp = new Keypair(resp.keys.send, resp.keys.receive, false, index, init.remoteIndex, now, {
    rejectAfterTime: dev.timing.rejectAfterTime,
    rejectAfterMessages: dev.timing.rejectAfterMessages,
  });
  // Responder: the new session waits in `next` until the initiator's first data confirms it.
  if (peer.next) dev.indexes.delete(peer.next.localIndex);
  peer.next = kp;
  dev.indexes.set(index, { peer, keypair: kp });
  dev.transmit(peer, resp.message);
  sessionDerived(dev, peer);
  dev.log("handshake-response-sent", { peer: peer.info.publicKey });
}

function receiveResponse(dev: WireGuardDevice, msg: Buffer, from: Endpoint): void {
  if (msg.length !== RESPONSE_LEN) return dev.drop("malformed");
  if (!admitHandshake(dev, msg, from)) return;
  const entry = dev.indexes.get(msg.readUInt32LE(8));
  if (!entry || !entry.handshake) return dev.drop("unknown-index");
  const { peer, handshake } = entry;
  const res = consumeResponse(dev.key, handshake, msg);
  if (!res) return dev.drop("bad-response");
  const now = Date.now();
  peer.handshake = null;
  peer.endpoint = from;
  peer.rxBytes += msg.length;
  const kp = new Keypair(res.keys.send, res.keys.receive, true, handshake.localIndex, res.remoteIndex, now, {
    rejectAfterTime: dev.timing.rejectAfterTime,
    rejectAfterMessages: dev.timing.rejectAfterMessages,
  });
  dev.indexes.set(handshake.localIndex, { peer, keypair: kp });
  // Initiator: the new session is confirmed and becomes current at once.
  if (peer.previous) dev.indexes.delete(peer.previous.localIndex);
  if (peer.next) {
    peer.previous = peer.next;
    peer.next = null;
    if (peer.current) dev.indexes.delete(peer.current.localIndex);
  } else {
    peer.previous = peer.current;
  }
  peer.current = kp;
  peer.sentLastMinuteHandshake = false;
  peer.lastHandshake = now;
  dev.stats.handshakesCompleted++;
  clearTimer(peer, "retransmit");
  sessionDerived(dev, peer);
  anyAuthenticatedPacketReceived(peer);
  anyAuthenticatedPacketTraversal(dev, peer);
  // Confirm the session to the responder: queued data, or a keepalive.
  if (peer.queue.length > 0) dev.flushQueue(peer);
  else dev.sendData(peer, kp, Buffer.alloc(0), now);
}

function receiveCookieReply(dev: WireGuardDevice, msg: Buffer): void {
  if (msg.length !== COOKIE_REPLY_LEN) return dev.drop("malformed");
  const entry = dev.indexes.get(msg.readUInt32LE(4));
  if (!entry) return dev.drop("unknown-index");
  const { peer } = entry;
  if (!peer.lastMac1) return dev.drop("unexpected-cookie");
  const cookie = consumeCookieReply(msg, peer.cookieKey, peer.lastMac1);
  if (!cookie) return dev.drop("bad-cookie");
  peer.cookie = cookie;
  peer.cookieReceived = Date.now();
  peer.lastMac1 = null; // one cookie per sent message
  // The retransmit timer resends the initiation, now with mac2.
}

function receiveTransport(dev: WireGuardDevice, msg: Buffer, from: Endpoint): void {
  if (msg.length < TRANSPORT_MIN_LEN) return dev.drop("malformed");
  const entry = dev.indexes.get(msg.readUInt32LE(4));
  if (!entry || !entry.keypair) return dev.drop("unknown-index");
  const { peer, keypair: kp } = entry;
  const now = Date.now();
  if (!kp.canReceive(now)) return dev.drop("expired-session");
  const counter = Keypair.counterOf(msg);
  if (counter === null || !kp.replay.check(counter)) return dev.drop("replay");
  const plain = kp.decrypt(msg, now);
  if (!plain) return dev.drop("bad-transport");
  peer.endpoint = from; // roaming: latest authenticated packet
  peer.rxBytes += msg.length;
  if (kp === peer.next) {
    // Key confirmation of a session we answered: rotate it in.
    if (peer.previous) dev.indexes.delete(peer.previous.localIndex);
    peer.previous = peer.current;
    peer.current = kp;
    peer.next = null;
    peer.lastHandshake = now;
    peer.sentLastMinuteHandshake = false;
    dev.stats.handshakesCompleted++;
    clearTimer(peer, "retransmit");
    dev.dropHandshake(peer);
    dev.flushQueue(peer);
  }
  anyAuthenticatedPacketReceived(peer);
  anyAuthenticatedPacketTraversal(dev, peer);
  // keep-key-fresh (receiving): the initiator rekeys shortly before REJECT_AFTER_TIME.
  if (
    kp === peer.current &&
    kp.isInitiator &&
    !peer.sentLastMinuteHandshake &&
    now - kp.created > dev.timing.rejectAfterTime - dev.timing.keepaliveTimeout - dev.timing.rekeyTimeout
  ) {
    peer.sentLastMinuteHandshake = true;
    dev.initiateHandshake(peer, false);
  }
  if (plain.length === 0) return; // keepalive
  const packet = checkInner(dev, peer, plain);
  if (!packet) return;
  dataReceived(dev, peer);
  for (const h of dev.handlers) {
    try {
      h(peer.info, packet);
    } catch (err) {
      dev.log("handler-error", { message: (err as Error).message });
    }
  }
}

/** Validates an inner IP packet and its source against the peer's allowed IPs; trims padding. */
function checkInner(dev: WireGuardDevice, peer: Peer, plain: Buffer): Buffer | null {
  const version = plain[0]! >> 4;
  let len: number;
  let src: Buffer;
  if (version === 4) {
    if (plain.length < 20) return dropNull(dev, "inner-malformed");
    len = plain.readUInt16BE(2);
    if (len < 20 || len > plain.length) return dropNull(dev, "inner-malformed");
    src = plain.subarray(12, 16);
  } else if (version === 6) {
    if (plain.length < 40) return dropNull(dev, "inner-malformed");
    len = 40 + plain.readUInt16BE(4);
    if (len > plain.length) return dropNull(dev, "inner-malformed");
    src = plain.subarray(8, 24);
  } else {
    return dropNull(dev, "inner-malformed");
  }
  if (dev.routes.lookup(src) !== peer) return dropNull(dev, "allowed-ips");
  return plain.subarray(0, len);
}

function dropNull(dev: WireGuardDevice, reason: string): null {
  dev.drop(reason);
  return null;
}
