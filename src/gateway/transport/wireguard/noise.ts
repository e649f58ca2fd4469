/**
 * WireGuard's Noise_IKpsk2 handshake (whitepaper §5.4), both roles, plus the
 * DoS-mitigation layer (§5.3, §5.4.7): mac1/mac2 and cookie replies.
 *
 * The functions here are pure message transforms — no sockets, no timers, no
 * peer table. {@link ./device.ts} drives them. Every "consume" function
 * returns null for anything it cannot authenticate; none of them throws on
 * attacker-controlled bytes.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import {
  aeadDecrypt,
  aeadEncrypt,
  dh,
  equal,
  generateEphemeral,
  generatePrivateKey,
  hash,
  kdf1,
  kdf2,
  kdf3,
  mac,
  privateKeyObject,
  publicKeyOf,
  tai64n,
  xaeadDecrypt,
  xaeadEncrypt,
} from "./primitives.js";

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_TRANSPORT = 4;

export const INITIATION_LEN = 148;
export const RESPONSE_LEN = 92;
export const COOKIE_REPLY_LEN = 64;
export const TRANSPORT_HEADER_LEN = 16;
/** Header + Poly1305 tag: an empty (keepalive) transport message. */
export const TRANSPORT_MIN_LEN = 32;

export const CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
export const IDENTIFIER = "WireGuard v1 zx2c4 Jason@zx2c4.com";
export const LABEL_MAC1 = "mac1----";
export const LABEL_COOKIE = "cookie--";
/** A cookie is good for this long after it was received (and the secret rotates this often). */
export const COOKIE_SECRET_MAX_AGE_MS = 120_000;

const INITIAL_CHAIN_KEY = hash(Buffer.from(CONSTRUCTION));
const INITIAL_HASH = hash(INITIAL_CHAIN_KEY, Buffer.from(IDENTIFIER));
const ZERO32 = Buffer.alloc(32);
const EMPTY = Buffer.alloc(0);

/** The two symmetric keys of a session, from one side's point of view. */
export interface TransportKeys {
  send: Buffer;
  receive: Buffer;
}

/** A static X25519 identity with its derived mac1/cookie keys cached. */
export class StaticKey {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
  readonly keyObject: KeyObject;
  /** HASH(LABEL_MAC1 ‖ our public): peers key mac1 of messages to us with it. */
  readonly mac1Key: Buffer;
  /** HASH(LABEL_COOKIE ‖ our public): we seal cookie replies with it. */
  readonly cookieKey: Buffer;

  constructor(privateKey: Uint8Array) {
    if (privateKey.length !== 32) throw new RangeError("WireGuard private key must be 32 bytes");
    this.privateKey = Buffer.from(privateKey);
    this.keyObject = privateKeyObject(this.privateKey);
    this.publicKey = publicKeyOf(this.keyObject);
    this.mac1Key = mac1KeyFor(this.publicKey);
    this.cookieKey = cookieKeyFor(this.publicKey);
  }

  static generate(): StaticKey {
    return new StaticKey(generatePrivateKey());
  }

  static fromBase64(b64: string): StaticKey {
    return new StaticKey(decodeKey(b64));
  }

  get privateKeyBase64(): string {
    return this.privateKey.toString("base64");
  }
  get publicKeyBase64(): string {
    return this.publicKey.toString("base64");
  }
}

export function mac1KeyFor(publicKey: Uint8Array): Buffer {
  return hash(Buffer.from(LABEL_MAC1), publicKey);
}
export function cookieKeyFor(publicKey: Uint8Array): Buffer {
  return hash(Buffer.from(LABEL_COOKIE), publicKey);
}

/** Decodes a `wg`-style base64 key (44 characters, 32 bytes). Throws on anything else. */
export function decodeKey(b64: string): Buffer {
  const s = b64.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(s)) throw new Error("invalid WireGuard key: want 32 bytes of base64");
  return Buffer.from(s, "base64");
}

/** The base64 public key of a base64 private key (what `wg pubkey` prints). */
export function publicKeyFromPrivate(privateKeyB64: string): string {
  return StaticKey.fromBase64(privateKeyB64).publicKeyBase64;
}

/** A fresh private key, base64 (what `wg genkey` prints). */
export function generateKeyBase64(): string {
  return generatePrivateKey().toString("base64");
}

// ---------------------------------------------------------------- initiation

/** Initiator-side state between sending the initiation and receiving the response. */
export interface InitiatorState {
  localIndex: number;
  remoteStatic: Buffer;
  psk: Buffer;
  ephemeral: KeyObject;
  hash: Buffer;
  chainingKey: Buffer;
}

/**
 * Builds a handshake initiation (mac1/mac2 left zero: see {@link writeMacs}).
 * Returns null only when DH with the remote static fails (a low-order key).
 */
export function createInitiation(
  local: StaticKey,
  remoteStatic: Buffer,
  localIndex: number,
  opts: { psk?: Buffer; timestamp?: Buffer } = {},
): { message: Buffer; state: InitiatorState } | null {
  const psk = opts.psk ?? ZERO32;
  let h = hash(INITIAL_HASH, remoteStatic);
  let ck: Buffer = INITIAL_CHAIN_KEY;
  const { privateKey: ephemeral, publicKey: ePub } = generateEphemeral();
  ck = kdf1(ck, ePub);
  h = hash(h, ePub);
  const es = dh(ephemeral, remoteStatic);
  if (!es) return null;
  let k: Buffer;
  [ck, k] = kdf2(ck, es);
  const encStatic = aeadEncrypt(k, 0, local.publicKey, h);
  h = hash(h, encStatic);
  const ss = dh(local.keyObject, remoteStatic);
  if (!ss) return null;
  [ck, k] = kdf2(ck, ss);
  const encTs = aeadEncrypt(k, 0, opts.timestamp ?? tai64n(), h);
  h = hash(h, encTs);

  const msg = Buffer.alloc(INITIATION_LEN);
  msg.writeUInt32LE(MSG_INITIATION, 0);
  msg.writeUInt32LE(localIndex >>> 0, 4);
  ePub.copy(msg, 8);
  encStatic.copy(msg, 40);
  encTs.copy(msg, 88);
  return { message: msg, state: { localIndex, remoteStatic, psk, ephemeral, hash: h, chainingKey: ck } };
}

/** What the responder learns from an authenticated initiation. */
export interface ConsumedInitiation {
  remoteIndex: number;
  remoteStatic: Buffer;
  remoteEphemeral: Buffer;
  timestamp: Buffer;
  hash: Buffer;
  chainingKey: Buffer;
}

/**
 * Decrypts an initiation addressed to `local`. The caller still has to
 * check that `remoteStatic` is a known peer and that `timestamp` is newer
 * than the last one seen from it. mac1 must have been checked before.
 */
export function consumeInitiation(local: StaticKey, msg: Buffer): ConsumedInitiation | null {
  if (msg.length !== INITIATION_LEN || msg.readUInt32LE(0) !== MSG_INITIATION) return null;
  const remoteIndex = msg.readUInt32LE(4);
  const ePub = Buffer.from(msg.subarray(8, 40));
  let h = hash(INITIAL_HASH, local.publicKey);
  let ck: Buffer = INITIAL_CHAIN_KEY;
  ck = kdf1(ck, ePub);
  h = hash(h, ePub);
  const es = dh(local.keyObject, ePub);
  if (!es) return null;
  let k: Buffer;
  [ck, k] = kdf2(ck, es);
  const encStatic = msg.subarray(40, 88);
  const remoteStatic = aeadDecrypt(k, 0, encStatic, h);
  if (!remoteStatic) return null;
  h = hash(h, encStatic);
  const ss = dh(local.keyObject, remoteStatic);
  if (!ss) return null;
  [ck, k] = kdf2(ck, ss);
  const encTs = msg.subarray(88, 116);
  const timestamp = aeadDecrypt(k, 0, encTs, h);
  if (!timestamp) return null;
  h = hash(h, encTs);
  return { remoteIndex, remoteStatic, remoteEphemeral: ePub, timestamp, hash: h, chainingKey: ck };
}

// ---------------------------------------------------------------- response

/** Builds the response (macs left zero) and the responder's transport keys. */
export function createResponse(
  init: ConsumedInitiation,
  localIndex: number,
  psk: Buffer = ZERO32,
): { message: Buffer; keys: TransportKeys } | null {
  let h = init.hash;
  let ck = init.chainingKey;
  const { privateKey: ephemeral, publicKey: ePub } = generateEphemeral();
  ck = kdf1(ck, ePub);
  h = hash(h, ePub);
  const ee = dh(ephemeral, init.remoteEphemeral);
  if (!ee) return null;
  ck = kdf1(ck, ee);
  const se = dh(ephemeral, init.remoteStatic);
  if (!se) return null;
  ck = kdf1(ck, se);
  const [ck2, tau, k] = kdf3(ck, psk);
  ck = ck2;
  h = hash(h, tau);
  const encEmpty = aeadEncrypt(k, 0, EMPTY, h);
  h = hash(h, encEmpty);

  const msg = Buffer.alloc(RESPONSE_LEN);
  msg.writeUInt32LE(MSG_RESPONSE, 0);
  msg.writeUInt32LE(localIndex >>> 0, 4);
  msg.writeUInt32LE(init.remoteIndex >>> 0, 8);
  ePub.copy(msg, 12);
  encEmpty.copy(msg, 44);
  const [initSend, initRecv] = kdf2(ck, EMPTY);
  return { message: msg, keys: { send: initRecv, receive: initSend } };
}

/** Consumes a response to `state`'s initiation; returns the initiator's transport keys. */
export function consumeResponse(
  local: StaticKey,
  state: InitiatorState,
  msg: Buffer,
): { remoteIndex: number; keys: TransportKeys } | null {
  if (msg.length !== RESPONSE_LEN || msg.readUInt32LE(0) !== MSG_RESPONSE) return null;
  if (msg.readUInt32LE(8) !== state.localIndex >>> 0) return null;
  const remoteIndex = msg.readUInt32LE(4);
  const ePub = msg.subarray(12, 44);
  let h = state.hash;
  let ck = state.chainingKey;
  ck = kdf1(ck, ePub);
  h = hash(h, ePub);
  const ee = dh(state.ephemeral, ePub);
  if (!ee) return null;
  ck = kdf1(ck, ee);
  const se = dh(local.keyObject, ePub);
  if (!se) return null;
  ck = kdf1(ck, se);
  const [ck2, tau, k] = kdf3(ck, state.psk);
  ck = ck2;
  h = hash(h, tau);
  const encEmpty = msg.subarray(44, 60);
  if (!aeadDecrypt(k, 0, encEmpty, h)) return null;
  const [send, receive] = kdf2(ck, EMPTY);
  return { remoteIndex, keys: { send, receive } };
}

// ---------------------------------------------------------------- mac1 / mac2

/**
 * Fills mac1 (keyed with the receiver's mac1 key) and mac2 (with `cookie`,
 * or zeros when there is none) of an initiation or response in place.
 * Returns mac1, which a cookie reply to this message will be bound to.
 */
export function writeMacs(msg: Buffer, remoteMac1Key: Buffer, cookie: Buffer | null): Buffer {
  const n = msg.length;
  const m1 = mac(remoteMac1Key, msg.subarray(0, n - 32));
  m1.copy(msg, n - 32);
  if (cookie) mac(cookie, msg.subarray(0, n - 16)).copy(msg, n - 16);
  else msg.fill(0, n - 16);
  return Buffer.from(m1);
}

export function checkMac1(msg: Buffer, localMac1Key: Buffer): boolean {
  const n = msg.length;
  if (n < 32) return false;
  return equal(mac(localMac1Key, msg.subarray(0, n - 32)), msg.subarray(n - 32, n - 16));
}

export function checkMac2(msg: Buffer, cookie: Buffer): boolean {
  const n = msg.length;
  if (n < 32) return false;
  return equal(mac(cookie, msg.subarray(0, n - 16)), msg.subarray(n - 16));
}

/**
 * Responder-side cookie machinery: a random secret that rotates every two
 * minutes, cookies = MAC(secret, source address ‖ port), and sealed
 * cookie replies (type 3) bound to the mac1 of the message they answer.
 */
export class CookieChecker {
  private secret = randomBytes(32);
  private secretBorn: number;

  constructor(
    private readonly local: StaticKey,
    private readonly now: () => number = Date.now,
  ) {
    this.secretBorn = now();
  }

  /** The cookie a source address would present (as mac2's key). */
  cookieFor(source: Buffer): Buffer {
    const t = this.now();
    if (t - this.secretBorn >= COOKIE_SECRET_MAX_AGE_MS) {
      this.secret = randomBytes(32);
      this.secretBorn = t;
    }
    return mac(this.secret, source);
  }

  checkMac2(msg: Buffer, source: Buffer): boolean {
    return checkMac2(msg, this.cookieFor(source));
  }

  /** A cookie reply to `msg` (an initiation or a response) that came from `source`. */
  createReply(msg: Buffer, source: Buffer): Buffer {
    const n = msg.length;
    const reply = Buffer.alloc(COOKIE_REPLY_LEN);
    reply.writeUInt32LE(MSG_COOKIE_REPLY, 0);
    msg.copy(reply, 4, 4, 8); // receiver = the sender index of the message we answer
    const nonce = randomBytes(24);
    nonce.copy(reply, 8);
    const sealed = xaeadEncrypt(this.local.cookieKey, nonce, this.cookieFor(source), msg.subarray(n - 32, n - 16));
    sealed.copy(reply, 32);
    return reply;
  }
}

/** Opens a cookie reply from a peer (`remoteCookieKey` = cookieKeyFor(peer public)). */
export function consumeCookieReply(msg: Buffer, remoteCookieKey: Buffer, lastMac1: Buffer): Buffer | null {
  if (msg.length !== COOKIE_REPLY_LEN || msg.readUInt32LE(0) !== MSG_COOKIE_REPLY) return null;
  return xaeadDecrypt(remoteCookieKey, msg.subarray(8, 32), msg.subarray(32, 64), lastMac1);
}

/** Address bytes a cookie is bound to: IP (4 or 16 bytes) ‖ port (2 bytes, big endian). */
export function sourceBytes(address: string, port: number): Buffer {
  const ip = parseIp(address);
  const out = Buffer.alloc((ip ? ip.length : 0) + 2);
  if (ip) out.set(ip, 0);
  out.writeUInt16BE(port & 0xffff, out.length - 2);
  return out;
}

/** Parses a dotted IPv4 or an IPv6 address (IPv4-mapped IPv6 becomes 4 bytes). Null if invalid. */
export function parseIp(s: string): Uint8Array | null {
  if (s.includes(":")) {
    const zone = s.indexOf("%");
    if (zone >= 0) s = s.slice(0, zone);
    const lastColon = s.lastIndexOf(":");
    const last = s.slice(lastColon + 1);
    if (last.includes(".")) {
      const v4 = parseIp(last);
      if (!v4 || v4.length !== 4) return null;
      const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
      const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
      s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
    }
    const halves = s.split("::");
    if (halves.length > 2) return null;
    const parse = (p: string): number[] | null => {
      if (p === "") return [];
      const out: number[] = [];
      for (const g of p.split(":")) {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
      return out;
    };
    const head = parse(halves[0]!);
    const rest = halves.length === 2 ? parse(halves[1]!) : [];
    if (!head || !rest) return null;
    const groups = head.length + rest.length;
    if (halves.length === 1 ? groups !== 8 : groups > 7) return null;
    const all = [...head, ...new Array<number>(8 - groups).fill(0), ...rest];
    const out = new Uint8Array(16);
    for (let i = 0; i < 8; i++) {
      out[i * 2] = all[i]! >> 8;
      out[i * 2 + 1] = all[i]! & 0xff;
    }
    // IPv4-mapped (::ffff:a.b.c.d) → the IPv4 address.
    if (out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff) return out.slice(12);
    return out;
  }
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}
