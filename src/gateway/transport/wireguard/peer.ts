/**
 * The WireGuard device's per-peer state and the shapes of its options and
 * status: what ./device.ts keeps for each peer (handshake in flight, the
 * previous/current/next keypairs, timers, counters), apart from the
 * protocol logic that drives it.
 */
import {
  KEEPALIVE_TIMEOUT,
  type Keypair,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_TIMEOUT,
} from "./keypair.js";
import { cookieKeyFor, mac1KeyFor, type InitiatorState } from "./noise.js";

/** Protocol timers in milliseconds (whitepaper §6.1); overridable for tests. */
export interface Timing {
  rekeyAfterTime: number;
  rejectAfterTime: number;
  rekeyAttemptTime: number;
  rekeyTimeout: number;
  keepaliveTimeout: number;
  rekeyAfterMessages: number;
  rejectAfterMessages: number;
}

export const DEFAULT_TIMING: Timing = {
  rekeyAfterTime: REKEY_AFTER_TIME,
  rejectAfterTime: REJECT_AFTER_TIME,
  rekeyAttemptTime: REKEY_ATTEMPT_TIME,
  rekeyTimeout: REKEY_TIMEOUT,
  keepaliveTimeout: KEEPALIVE_TIMEOUT,
  rekeyAfterMessages: REKEY_AFTER_MESSAGES,
  rejectAfterMessages: REJECT_AFTER_MESSAGES,
};

export interface PeerConfig {
  /** base64, as `wg pubkey` prints. */
  publicKey: string;
  presharedKey?: string;
  /** CIDRs the peer may send from (and that route to it). */
  allowedIps: string[];
  name?: string;
  /** Initial endpoint "host:port" / "[v6]:port"; otherwise learned from the peer. */
  endpoint?: string;
  /** Seconds; 0 or absent = off. */
  persistentKeepalive?: number;
}

/** The handle given to packet handlers. */
export interface PeerInfo {
  readonly publicKey: string;
  readonly name: string | undefined;
}

export interface PeerStatus extends PeerInfo {
  endpoint: string | null;
  allowedIps: string[];
  /** ms since the epoch, or null when no session was ever established. */
  lastHandshake: number | null;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number;
  /** Whether a session can currently send. */
  hasSession: boolean;
}

export interface DeviceStats {
  rxDatagrams: number;
  txDatagrams: number;
  handshakesCompleted: number;
  cookieRepliesSent: number;
  /** Dropped datagrams / packets by reason. */
  dropped: Record<string, number>;
}

export interface DeviceOptions {
  /** base64 (as `wg genkey`) or raw 32 bytes. */
  privateKey: string | Uint8Array;
  /** Inner MTU; caps padding. Default 1420. */
  mtu?: number;
  /** Handshake messages per second above which the device is "under load". Default 200. */
  underLoadThreshold?: number;
  /** Packets queued per peer while a handshake is pending. Default 1024. */
  queueLimit?: number;
  timing?: Partial<Timing>;
  /** Diagnostic hook; never receives key material. */
  log?: (event: string, detail?: Record<string, unknown>) => void;
}

export type PacketHandler = (peer: PeerInfo, ipPacket: Buffer) => void;

export interface Endpoint {
  address: string;
  port: number;
}

export interface IndexEntry {
  peer: Peer;
  keypair?: Keypair;
  handshake?: InitiatorState;
}

export type TimerName = "retransmit" | "sendKeepalive" | "newHandshake" | "zeroKeys" | "persistentKeepalive";

export class Peer {
  readonly info: PeerInfo;
  readonly mac1Key: Buffer;
  readonly cookieKey: Buffer;
  endpoint: Endpoint | null = null;
  persistentKeepalive = 0;
  psk: Buffer;

  handshake: InitiatorState | null = null;
  lastInitiationSent = -Infinity;
  attemptsStarted = 0;
  lastMac1: Buffer | null = null;
  cookie: Buffer | null = null;
  cookieReceived = 0;

  lastTimestamp: Buffer | null = null;
  lastInitiationConsumed = -Infinity;

  previous: Keypair | null = null;
  current: Keypair | null = null;
  next: Keypair | null = null;
  sentLastMinuteHandshake = false;

  queue: Buffer[] = [];
  rxBytes = 0;
  txBytes = 0;
  lastHandshake: number | null = null;
  readonly timers = new Map<TimerName, NodeJS.Timeout>();

  constructor(
    readonly publicKey: Buffer,
    name: string | undefined,
    psk: Buffer,
  ) {
    this.info = Object.freeze({ publicKey: publicKey.toString("base64"), name });
    this.mac1Key = mac1KeyFor(publicKey);
    this.cookieKey = cookieKeyFor(publicKey);
    this.psk = psk;
  }
}

export function parseEndpoint(s: string): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`invalid endpoint ${JSON.stringify(s)}: want host:port`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`invalid endpoint port in ${JSON.stringify(s)}`);
  return { address: m[1]!, port };
}

export function formatEndpoint(e: Endpoint): string {
  const a = e.address.startsWith("::ffff:") && e.address.includes(".") ? e.address.slice(7) : e.address;
  return a.includes(":") ? `[${a}]:${e.port}` : `${a}:${e.port}`;
}

