/**
 * Transport data messages (whitepaper §5.4.6): type 4, receiver index,
 * 64-bit little-endian counter, ChaCha20-Poly1305 over the inner packet
 * zero-padded to a multiple of 16. One {@link Keypair} is one session in one
 * direction pair: a send key with its nonce counter, a receive key with its
 * replay window.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { MSG_TRANSPORT, TRANSPORT_HEADER_LEN, TRANSPORT_MIN_LEN } from "./noise.js";
import { ReplayWindow } from "./replay.js";
import { TAG_LEN } from "./primitives.js";

/** Whitepaper constants (§6.1). Times in milliseconds. */
export const REKEY_AFTER_MESSAGES = 2 ** 60;
/** 2^64 − 2^13 − 1 exactly; JS numbers stop being exact at 2^53, which no session reaches. */
export const REJECT_AFTER_MESSAGES_EXACT = 2n ** 64n - 2n ** 13n - 1n;
export const REJECT_AFTER_MESSAGES = Number.MAX_SAFE_INTEGER;
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
export const KEEPALIVE_TIMEOUT = 10_000;

export interface KeypairLimits {
  rejectAfterMessages: number;
  rejectAfterTime: number;
}

const DEFAULT_LIMITS: KeypairLimits = {
  rejectAfterMessages: REJECT_AFTER_MESSAGES,
  rejectAfterTime: REJECT_AFTER_TIME,
};

export class Keypair {
  /** Next counter to send with. */
  sendCounter = 0;
  readonly replay = new ReplayWindow();
  private readonly limits: KeypairLimits;

  constructor(
    readonly sendKey: Buffer,
    readonly receiveKey: Buffer,
    readonly isInitiator: boolean,
    readonly localIndex: number,
    readonly remoteIndex: number,
    readonly created: number,
    limits: Partial<KeypairLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Whether the session may still send (time and counter limits). */
  canSend(now: number): boolean {
    return now - this.created < this.limits.rejectAfterTime && this.sendCounter < this.limits.rejectAfterMessages;
  }

  canReceive(now: number): boolean {
    return now - this.created < this.limits.rejectAfterTime;
  }

  /**
   * Seals `plain` into a complete type-4 message. `mtu` caps the padding
   * (a packet of exactly MTU bytes is not padded past it). Returns null
   * when the session is exhausted (REJECT_AFTER_MESSAGES).
   */
  encrypt(plain: Buffer, mtu = 1420): Buffer | null {
    const counter = this.sendCounter;
    if (counter >= this.limits.rejectAfterMessages) return null;
    this.sendCounter = counter + 1;
    const len = plain.length;
    let padded = (len + 15) & ~15;
    if (len <= mtu && padded > mtu) padded = mtu;
    const out = Buffer.allocUnsafe(TRANSPORT_HEADER_LEN + padded + TAG_LEN);
    out.writeUInt32LE(MSG_TRANSPORT, 0);
    out.writeUInt32LE(this.remoteIndex >>> 0, 4);
    out.writeUInt32LE(counter >>> 0, 8);
    out.writeUInt32LE(Math.floor(counter / 0x100000000) >>> 0, 12);
    // The nonce is 32 zero bits followed by the counter: bytes 4..16 of the message header
    // with the first four zeroed.
    const nonce = Buffer.alloc(12);
    out.copy(nonce, 4, 8, 16);
    const c = createCipheriv("chacha20-poly1305", this.sendKey, nonce, { authTagLength: TAG_LEN });
    let off = TRANSPORT_HEADER_LEN;
    if (len > 0) off += c.update(plain).copy(out, off);
    if (padded > len) off += c.update(Buffer.alloc(padded - len)).copy(out, off);
    c.final();
    c.getAuthTag().copy(out, off);
    return out;
  }

  /** The counter of a transport message (no authentication). Null if it cannot be valid. */
  static counterOf(msg: Buffer): number | null {
    if (msg.length < TRANSPORT_MIN_LEN) return null;
    const hi = msg.readUInt32LE(12);
    if (hi >= 0x200000) return null; // ≥ 2^53: beyond any counter a session can reach
    return hi * 0x100000000 + msg.readUInt32LE(8);
  }

  /**
   * Opens a type-4 message addressed to this keypair: checks the counter
   * limit and the replay window, authenticates, then marks the counter.
   * Returns the padded plaintext, or null (replay, forgery, exhausted).
   */
  decrypt(msg: Buffer, now: number): Buffer | null {
    const counter = Keypair.counterOf(msg);
    if (counter === null || counter >= this.limits.rejectAfterMessages) return null;
    if (!this.canReceive(now)) return null;
    if (!this.replay.check(counter)) return null;
    const nonce = Buffer.alloc(12);
    msg.copy(nonce, 4, 8, 16);
    let plain: Buffer;
    try {
      const d = createDecipheriv("chacha20-poly1305", this.receiveKey, nonce, { authTagLength: TAG_LEN });
      d.setAuthTag(msg.subarray(msg.length - TAG_LEN));
      plain = d.update(msg.subarray(TRANSPORT_HEADER_LEN, msg.length - TAG_LEN));
      d.final();
    } catch {
      return null;
    }
    if (!this.replay.accept(counter)) return null;
    return plain;
  }
}
