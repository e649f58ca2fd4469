/**
 * Hand-built IPv4/UDP packets and a raw in-process WireGuard initiator, for
 * tests and benchmarks of the device (not used by the gateway itself).
 */
import dgram from "node:dgram";
import { once } from "node:events";
import { Keypair } from "./keypair.js";
import {
  StaticKey,
  consumeCookieReply,
  consumeResponse,
  cookieKeyFor,
  createInitiation,
  mac1KeyFor,
  parseIp,
  writeMacs,
} from "./noise.js";

function onesComplement(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** An IPv4/UDP packet with valid header and UDP checksums. */
export function buildUdp4(src: string, srcPort: number, dst: string, dstPort: number, payload: Buffer): Buffer {
  const s = parseIp(src);
  const d = parseIp(dst);
  if (!s || !d || s.length !== 4 || d.length !== 4) throw new Error("IPv4 addresses required");
  const udpLen = 8 + payload.length;
  const pkt = Buffer.alloc(20 + udpLen);
  pkt[0] = 0x45;
  pkt.writeUInt16BE(20 + udpLen, 2);
  pkt.writeUInt16BE(0x4000, 6); // DF
  pkt[8] = 64;
  pkt[9] = 17;
  pkt.set(s, 12);
  pkt.set(d, 16);
  pkt.writeUInt16BE(~onesComplement(pkt.subarray(0, 20)) & 0xffff, 10);
  pkt.writeUInt16BE(srcPort, 20);
  pkt.writeUInt16BE(dstPort, 22);
  pkt.writeUInt16BE(udpLen, 24);
  payload.copy(pkt, 28);
  const pseudo = Buffer.alloc(12);
  pseudo.set(s, 0);
  pseudo.set(d, 4);
  pseudo[9] = 17;
  pseudo.writeUInt16BE(udpLen, 10);
  let ck = ~onesComplement(pkt.subarray(20), onesComplement(pseudo)) & 0xffff;
  if (ck === 0) ck = 0xffff;
  pkt.writeUInt16BE(ck, 26);
  return pkt;
}

export interface ParsedUdp4 {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  headerChecksumOk: boolean;
}

export function parseUdp4(pkt: Buffer): ParsedUdp4 | null {
  if (pkt.length < 28 || pkt[0]! >> 4 !== 4 || pkt[9] !== 17) return null;
  const ihl = (pkt[0]! & 0xf) * 4;
  const ip = (o: number) => `${pkt[o]}.${pkt[o + 1]}.${pkt[o + 2]}.${pkt[o + 3]}`;
  const udpLen = pkt.readUInt16BE(ihl + 4);
  return {
    src: ip(12),
    dst: ip(16),
    srcPort: pkt.readUInt16BE(ihl),
    dstPort: pkt.readUInt16BE(ihl + 2),
    payload: pkt.subarray(ihl + 8, ihl + udpLen),
    headerChecksumOk: onesComplement(pkt.subarray(0, ihl)) === 0xffff,
  };
}

/**
 * A bare initiator over its own UDP socket, driving noise.ts and Keypair
 * directly: lets tests replay, forge, and handle cookie replies by hand.
 */
export class RawInitiator {
  readonly key = StaticKey.generate();
  readonly socket = dgram.createSocket("udp4");
  private inbox: Buffer[] = [];
  private waiters: ((b: Buffer) => void)[] = [];
  keypair: Keypair | null = null;
  cookie: Buffer | null = null;

  constructor(
    private readonly serverPublic: Buffer,
    private readonly serverPort: number,
    private readonly serverHost = "127.0.0.1",
    private readonly psk?: Buffer,
  ) {
    this.socket.on("message", (m) => {
      const w = this.waiters.shift();
      if (w) w(m);
      else this.inbox.push(m);
    });
  }

  async bind(): Promise<void> {
    this.socket.bind(0, "127.0.0.1");
    await once(this.socket, "listening");
  }

  /** Next datagram from the server, or null after `ms`. */
  next(ms = 2000): Promise<Buffer | null> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => {
      const w = (b: Buffer) => {
        clearTimeout(t);
        resolve(b);
      };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(null);
      }, ms);
      this.waiters.push(w);
    });
  }

  raw(msg: Buffer): void {
    this.socket.send(msg, this.serverPort, this.serverHost);
  }

  /** Sends one initiation (with mac2 if a cookie is held); returns what it sent and its state. */
  sendInitiation(index = 0x1000 + Math.floor(Math.random() * 0xffff)) {
    const init = createInitiation(this.key, this.serverPublic, index, this.psk ? { psk: this.psk } : {});
    if (!init) throw new Error("initiation failed");
    const mac1 = writeMacs(init.message, mac1KeyFor(this.serverPublic), this.cookie);
    this.raw(init.message);
    return { ...init, mac1 };
  }

  /** Takes a cookie out of a cookie reply to the message whose mac1 is given. */
  takeCookie(reply: Buffer, mac1: Buffer): boolean {
    const c = consumeCookieReply(reply, cookieKeyFor(this.serverPublic), mac1);
    if (c) this.cookie = c;
    return !!c;
  }

  /** Full handshake; then confirms the session with a keepalive. */
  async handshake(): Promise<Keypair> {
    const sent = this.sendInitiation();
    const resp = await this.next();
    if (!resp || resp[0] !== 2) throw new Error(`no handshake response (got ${resp ? `type ${resp[0]}` : "nothing"})`);
    const res = consumeResponse(this.key, sent.state, resp);
    if (!res) throw new Error("bad handshake response");
    this.keypair = new Keypair(res.keys.send, res.keys.receive, true, sent.state.localIndex, res.remoteIndex, Date.now());
    this.raw(this.keypair.encrypt(Buffer.alloc(0))!);
    return this.keypair;
  }

  /** Encrypts and sends an inner packet; returns the datagram (for replay tests). */
  sendPacket(ip: Buffer): Buffer {
    if (!this.keypair) throw new Error("no session");
    const msg = this.keypair.encrypt(ip)!;
    this.raw(msg);
    return msg;
  }

  close(): void {
    this.socket.close();
  }
}
