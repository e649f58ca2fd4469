/**
 * Cryptographic primitives of WireGuard (whitepaper §5.4), on node:crypto
 * where it has them:
 *
 * - DH: X25519 (`crypto.diffieHellman` on KeyObjects).
 * - HASH: BLAKE2s-256 (`createHash('blake2s256')`); HMAC: HMAC-BLAKE2s-256.
 * - AEAD: ChaCha20-Poly1305 with a 96-bit nonce of 32 zero bits and a 64-bit
 *   little-endian counter.
 * - MAC: keyed BLAKE2s with a 16-byte output — node:crypto has no keyed
 *   BLAKE2s, so {@link blake2s} below is written from RFC 7693.
 * - XAEAD: XChaCha20-Poly1305 for cookie replies — node:crypto lacks it, so
 *   {@link hchacha20} (draft-irtf-cfrg-xchacha §2.2) derives a subkey that
 *   feeds node's ChaCha20-Poly1305.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  type KeyObject,
} from "node:crypto";

export const KEY_LEN = 32;
export const TAG_LEN = 16;

// ---------------------------------------------------------------- BLAKE2s

const B2S_IV = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const SIGMA: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

function b2sCompress(h: Uint32Array, block: Uint8Array, off: number, t: number, last: boolean): void {
  const m = new Uint32Array(16);
  for (let i = 0; i < 16; i++) {
    const o = off + i * 4;
    m[i] = (block[o]! | (block[o + 1]! << 8) | (block[o + 2]! << 16) | (block[o + 3]! << 24)) >>> 0;
  }
  const v = new Uint32Array(16);
  v.set(h, 0);
  v.set(B2S_IV, 8);
  v[12] = (v[12]! ^ (t >>> 0)) >>> 0;
  v[13] = (v[13]! ^ Math.floor(t / 0x100000000)) >>> 0;
  if (last) v[14] = ~v[14]! >>> 0;
  const g = (a: number, b: number, c: number, d: number, x: number, y: number): void => {
    v[a] = (v[a]! + v[b]! + x) >>> 0;
    v[d] = rotr(v[d]! ^ v[a]!, 16) >>> 0;
    v[c] = (v[c]! + v[d]!) >>> 0;
    v[b] = rotr(v[b]! ^ v[c]!, 12) >>> 0;
    v[a] = (v[a]! + v[b]! + y) >>> 0;
    v[d] = rotr(v[d]! ^ v[a]!, 8) >>> 0;
    v[c] = (v[c]! + v[d]!) >>> 0;
    v[b] = rotr(v[b]! ^ v[c]!, 7) >>> 0;
  };
  for (let r = 0; r < 10; r++) {
    const s = SIGMA[r]!;
    g(0, 4, 8, 12, m[s[0]!]!, m[s[1]!]!);
    g(1, 5, 9, 13, m[s[2]!]!, m[s[3]!]!);
    g(2, 6, 10, 14, m[s[4]!]!, m[s[5]!]!);
    g(3, 7, 11, 15, m[s[6]!]!, m[s[7]!]!);
    g(0, 5, 10, 15, m[s[8]!]!, m[s[9]!]!);
    g(1, 6, 11, 12, m[s[10]!]!, m[s[11]!]!);
    g(2, 7, 8, 13, m[s[12]!]!, m[s[13]!]!);
    g(3, 4, 9, 14, m[s[14]!]!, m[s[15]!]!);
  }
  for (let i = 0; i < 8; i++) h[i] = (h[i]! ^ v[i]! ^ v[i + 8]!) >>> 0;
}

/** BLAKE2s (RFC 7693) with an optional key (≤ 32 bytes) and output length 1..32. */
export function blake2s(input: Uint8Array, key: Uint8Array | undefined, outLen: number): Buffer {
  const keyLen = key ? key.length : 0;
  if (outLen < 1 || outLen > 32 || keyLen > 32) throw new RangeError("blake2s: bad parameters");
  const h = new Uint32Array(B2S_IV);
  h[0] = (h[0]! ^ 0x01010000 ^ (keyLen << 8) ^ outLen) >>> 0;
  // Key block (if any) followed by the input; the final block carries the "last" flag.
  let data: Uint8Array = input;
  if (keyLen > 0) {
    const d = new Uint8Array(64 + input.length);
    d.set(key!, 0);
    d.set(input, 64);
    data = d;
  }
  let t = 0;
  let off = 0;
  while (data.length - off > 64) {
    t += 64;
    b2sCompress(h, data, off, t, false);
    off += 64;
  }
  const lastBlock = new Uint8Array(64);
  lastBlock.set(data.subarray(off), 0);
  t += data.length - off;
  b2sCompress(h, lastBlock, 0, t, true);
  const out = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) out.writeUInt32LE(h[i]!, i * 4);
  return out.subarray(0, outLen);
}

// ---------------------------------------------------------------- hash / mac / kdf

export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash("blake2s256");
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac("blake2s256", key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** MAC(key, input) = Keyed-BLAKE2s(key, input), 16 bytes. */
export function mac(key: Uint8Array, input: Uint8Array): Buffer {
  return blake2s(input, key, 16);
}

const ONE = Buffer.from([1]);
const TWO = Buffer.from([2]);
const THREE = Buffer.from([3]);

export function kdf1(key: Uint8Array, input: Uint8Array): Buffer {
  const t0 = hmac(key, input);
  return hmac(t0, ONE);
}
export function kdf2(key: Uint8Array, input: Uint8Array): [Buffer, Buffer] {
  const t0 = hmac(key, input);
  const t1 = hmac(t0, ONE);
  const t2 = hmac(t0, t1, TWO);
  return [t1, t2];
}
export function kdf3(key: Uint8Array, input: Uint8Array): [Buffer, Buffer, Buffer] {
  const t0 = hmac(key, input);
  const t1 = hmac(t0, ONE);
  const t2 = hmac(t0, t1, TWO);
  const t3 = hmac(t0, t2, THREE);
  return [t1, t2, t3];
}

// ---------------------------------------------------------------- AEAD

function counterNonce(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter >>> 0, 4);
  n.writeUInt32LE(Math.floor(counter / 0x100000000) >>> 0, 8);
  return n;
}

/** AEAD(key, counter, plain, ad) → ciphertext ‖ tag. */
export function aeadEncrypt(key: Uint8Array, counter: number, plain: Uint8Array, ad: Uint8Array): Buffer {
  return aeadEncryptNonce(key, counterNonce(counter), plain, ad);
}

/** Returns the plaintext, or null when authentication fails. */
export function aeadDecrypt(key: Uint8Array, counter: number, sealed: Uint8Array, ad: Uint8Array): Buffer | null {
  return aeadDecryptNonce(key, counterNonce(counter), sealed, ad);
}

function aeadEncryptNonce(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, ad: Uint8Array): Buffer {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_LEN });
  if (ad.length > 0) c.setAAD(ad, { plaintextLength: plain.length });
  const body = c.update(plain);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

function aeadDecryptNonce(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Buffer | null {
  if (sealed.length < TAG_LEN) return null;
  try {
    const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_LEN });
    if (ad.length > 0) d.setAAD(ad, { plaintextLength: sealed.length - TAG_LEN });
    d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
    const body = d.update(sealed.subarray(0, sealed.length - TAG_LEN));
    d.final();
    return body;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- HChaCha20 / XAEAD

const SIGMA_WORDS = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

/** HChaCha20(key[32], nonce[16]) → 32-byte subkey (draft-irtf-cfrg-xchacha §2.2). */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Buffer {
  if (key.length !== 32 || nonce16.length !== 16) throw new RangeError("hchacha20: bad parameters");
  const kb = Buffer.from(key.buffer, key.byteOffset, key.length);
  const nb = Buffer.from(nonce16.buffer, nonce16.byteOffset, nonce16.length);
  const x = new Uint32Array(16);
  for (let i = 0; i < 4; i++) x[i] = SIGMA_WORDS[i]!;
  for (let i = 0; i < 8; i++) x[4 + i] = kb.readUInt32LE(i * 4);
  for (let i = 0; i < 4; i++) x[12 + i] = nb.readUInt32LE(i * 4);
  const qr = (a: number, b: number, c: number, d: number): void => {
    x[a] = (x[a]! + x[b]!) >>> 0;
    x[d] = ((x[d]! ^ x[a]!) << 16) | ((x[d]! ^ x[a]!) >>> 16);
    x[c] = (x[c]! + x[d]!) >>> 0;
    x[b] = ((x[b]! ^ x[c]!) << 12) | ((x[b]! ^ x[c]!) >>> 20);
    x[a] = (x[a]! + x[b]!) >>> 0;
    x[d] = ((x[d]! ^ x[a]!) << 8) | ((x[d]! ^ x[a]!) >>> 24);
    x[c] = (x[c]! + x[d]!) >>> 0;
    x[b] = ((x[b]! ^ x[c]!) << 7) | ((x[b]! ^ x[c]!) >>> 25);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12);
    qr(1, 5, 9, 13);
    qr(2, 6, 10, 14);
    qr(3, 7, 11, 15);
    qr(0, 5, 10, 15);
    qr(1, 6, 11, 12);
    qr(2, 7, 8, 13);
    qr(3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(x[i]! >>> 0, i * 4);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(x[12 + i]! >>> 0, 16 + i * 4);
  return out;
}

function xNonce(nonce24: Uint8Array): Buffer {
  const n = Buffer.alloc(12);
  n.set(nonce24.subarray(16, 24), 4);
  return n;
}

/** XChaCha20-Poly1305 seal: nonce is 24 bytes. */
export function xaeadEncrypt(key: Uint8Array, nonce24: Uint8Array, plain: Uint8Array, ad: Uint8Array): Buffer {
  return aeadEncryptNonce(hchacha20(key, nonce24.subarray(0, 16)), xNonce(nonce24), plain, ad);
}

export function xaeadDecrypt(key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Buffer | null {
  return aeadDecryptNonce(hchacha20(key, nonce24.subarray(0, 16)), xNonce(nonce24), sealed, ad);
}

// ---------------------------------------------------------------- X25519

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

const DUMMY_X = Buffer.alloc(32).toString("base64url");

/**
 * Imports a raw X25519 private key. JWK import takes ~40 µs where PKCS#8 DER
 * takes ~450 µs in Node 20 (OpenSSL 3 decoder lookup). Node builds an OKP
 * private key from `d` alone and only requires `x` to be present, so a
 * placeholder is passed; the public key is always re-derived from the
 * KeyObject ({@link publicKeyOf}), never taken from `x`. Falls back to DER
 * should a Node version start rejecting the placeholder.
 */
export function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError("X25519 private key must be 32 bytes");
  const d = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString("base64url");
  try {
    return createPrivateKey({ key: { kty: "OKP", crv: "X25519", d, x: DUMMY_X }, format: "jwk" });
  } catch {
    return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: "der", type: "pkcs8" });
  }
}

// JWK import is ~15x faster than DER/SPKI import for public keys in Node 20 (OpenSSL 3 decoders).
export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError("X25519 public key must be 32 bytes");
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
}

export function publicKeyOf(priv: KeyObject): Buffer {
  return rawPublic(createPublicKey(priv));
}

function rawPublic(pub: KeyObject): Buffer {
  const x = pub.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("X25519 public key export failed");
  return Buffer.from(x, "base64url");
}

/**
 * A fresh ephemeral key pair (private as a KeyObject, public raw).
 * Deliberately not `generateKeyPairSync('x25519')`: in Node 20 a GC that
 * finalizes its KeyGenJob while the same key is being exported deadlocks the
 * main thread (seen here ~1 in 3 runs of a handshake loop).
 */
export function generateEphemeral(): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = privateKeyObject(generatePrivateKey());
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** Clamped random private key, as `wg genkey` makes. */
export function generatePrivateKey(): Buffer {
  const k = randomBytes(32);
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

/** DH(priv, pub); null when the result is all zeros / the point is of low order. */
export function dh(priv: KeyObject, pubRaw: Uint8Array): Buffer | null {
  try {
    const out = diffieHellman({ privateKey: priv, publicKey: publicKeyObject(pubRaw) });
    let acc = 0;
    for (const b of out) acc |= b;
    return acc === 0 ? null : out;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- TAI64N

/** TAI64N label for a wall-clock time in ms (12 bytes, big endian). */
export function tai64n(nowMs: number = Date.now()): Buffer {
  const out = Buffer.alloc(12);
  const secs = Math.floor(nowMs / 1000);
  // 2^62 + secs, written as two 32-bit halves (secs < 2^32 for centuries).
  out.writeUInt32BE(0x40000000 + Math.floor(secs / 0x100000000), 0);
  out.writeUInt32BE(secs >>> 0, 4);
  // Nanoseconds, whitened to ~16 ms resolution like the reference implementations
  // do, so the label does not leak the precise clock.
  const nanos = Math.floor((nowMs % 1000) * 1e6);
  out.writeUInt32BE(nanos - (nanos % 0x1000000), 8);
  return out;
}

/** Constant-time equality for equal-length buffers. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}
