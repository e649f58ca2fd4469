/**
 * Test-only helpers: an in-memory "wire" between two stacks that can drop,
 * duplicate, reorder and delay packets (seeded), and a raw packet crafter
 * for poking one stack with hand-built segments.
 */
import { prng } from "../../../testing/prng.js";
import { addrToString, buildIp, checksum, ipHeaderLen, parseAddr, parseIp, pseudoSum, PROTO_TCP, PROTO_UDP } from "./ip4.js";
import { parseTcp, tcpHeaderLen, writeTcp, type TcpHeaderOut, type TcpSegment } from "./tcp-segment.js";
import { createNetStack, type CreateNetStackOptions, type UserspaceNetStack } from "./stack.js";
import type { TcpConnection, UdpDatagram } from "./api.js";

export interface WireOptions {
  seed?: number;
  /** Probability a packet is lost. */
  loss?: number;
  /** Probability a packet is delivered twice. */
  dup?: number;
  /** Probability a packet is held back by a random extra delay (reordering). */
  reorder?: number;
  /** Fixed one-way delay in ms (0: next event-loop turn). */
  delayMs?: number;
  /** Max extra delay for reordered packets (ms). */
  jitterMs?: number;
  /** Optional filter: return false to drop a packet (after the random effects). */
  filter?: (pkt: Buffer, dir: "ab" | "ba") => boolean;
}

/** A one-directional lossy link delivering into `deliver` asynchronously. */
export class Link {
  private queue: Buffer[] = [];
  private scheduled = false;
  private readonly rand: () => number;
  private timers = new Set<NodeJS.Timeout>();
  packets = 0;
  bytes = 0;
  dropped = 0;
  closed = false;

  constructor(
    private readonly opts: WireOptions,
    private readonly dir: "ab" | "ba",
    private readonly deliver: (p: Buffer) => void,
  ) {
    this.rand = prng((opts.seed ?? 1) + (dir === "ab" ? 0 : 7919));
  }

  send = (pkt: Buffer): void => {
    if (this.closed) return;
    this.packets++;
    this.bytes += pkt.length;
    const o = this.opts;
    if (o.filter && !o.filter(pkt, this.dir)) {
      this.dropped++;
      return;
    }
    if (o.loss && this.rand() < o.loss) {
      this.dropped++;
      return;
    }
    const copies = o.dup && this.rand() < o.dup ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = o.delayMs ?? 0;
      if (o.reorder && this.rand() < o.reorder) delay += 0.2 + this.rand() * (o.jitterMs ?? 2);
      if (delay <= 0) this.enqueue(pkt);
      else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.enqueue(pkt);
        }, delay);
        this.timers.add(t);
      }
    }
  };

  private enqueue(pkt: Buffer): void {
    this.queue.push(pkt);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (const p of q) if (!this.closed) this.deliver(p);
  };

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue = [];
  }
}

export interface Pair {
  /** The "gateway" stack (passive side). */
  server: UserspaceNetStack;
  /** The "agent" stack (active opens). */
  client: UserspaceNetStack;
  accepted: TcpConnection[];
  udp: UdpDatagram[];
  ab: Link;
  ba: Link;
  /** Resolves with the next connection the server accepts. */
  nextAccept(): Promise<TcpConnection>;
  close(): void;
}

/** Two stacks back to back: client → (ab) → server, server → (ba) → client. */
export function makePair(wire: WireOptions = {}, serverOpts: Partial<CreateNetStackOptions> = {}, clientOpts: Partial<CreateNetStackOptions> = {}): Pair {
  const accepted: TcpConnection[] = [];
  const udp: UdpDatagram[] = [];
  const waiters: ((c: TcpConnection) => void)[] = [];
  let server!: UserspaceNetStack;
  let client!: UserspaceNetStack;
  const ab = new Link(wire, "ab", (p) => server.input(p));
  const ba = new Link(wire, "ba", (p) => client.input(p));
  server = createNetStack({
    output: (p) => ba.send(p),
    onTcp: (c) => {
      accepted.push(c);
      const w = waiters.shift();
      if (w) w(c);
    },
    onUdp: (d) => udp.push(d),
    ...serverOpts,
  });
  client = createNetStack({
    output: (p) => ab.send(p),
    onTcp: () => {},
    onUdp: () => {},
    ...clientOpts,
  });
  return {
    server,
    client,
    accepted,
    udp,
    ab,
    ba,
    nextAccept: () => new Promise((res) => waiters.push(res)),
    close() {
      client.close();
      server.close();
      ab.close();
      ba.close();
    },
  };
}

let nextPort = 20000;
/** A fresh client port for active opens. */
export function clientPort(): number {
  nextPort = nextPort >= 60000 ? 20000 : nextPort + 1;
  return nextPort;
}

// ---------------------------------------------------------------- raw packets

export interface RawTcp extends Partial<TcpHeaderOut> {
  src?: string;
  dst?: string;
  payload?: Buffer;
}

/** Builds an IP/TCP packet (defaults: 10.0.0.2:40000 → 93.184.216.34:443). */
export function rawTcp(o: RawTcp): Buffer {
  const src = parseAddr(o.src ?? "10.0.0.2")!;
  const dst = parseAddr(o.dst ?? "93.184.216.34")!;
  const v6 = src.length === 16;
  const h: TcpHeaderOut = {
    srcPort: o.srcPort ?? 40000,
    dstPort: o.dstPort ?? 443,
    seq: o.seq ?? 1000,
    ack: o.ack ?? 0,
    flags: o.flags ?? 0,
    window: o.window ?? 65535,
    ...(o.mss !== undefined ? { mss: o.mss } : {}),
    ...(o.wscale !== undefined ? { wscale: o.wscale } : {}),
    ...(o.sackOk ? { sackOk: true } : {}),
    ...(o.sack !== undefined ? { sack: o.sack } : {}),
  };
  const payload = o.payload ?? Buffer.alloc(0);
  const hl = tcpHeaderLen(h);
  const pkt = buildIp(v6, src, dst, PROTO_TCP, hl + payload.length);
  payload.copy(pkt, ipHeaderLen(v6) + hl);
  writeTcp(pkt, ipHeaderLen(v6), h, payload.length, pseudoSum(src, dst, PROTO_TCP, hl + payload.length));
  return pkt;
}

/** Builds an IP/UDP packet. */
export function rawUdp(src: string, srcPort: number, dst: string, dstPort: number, payload: Buffer): Buffer {
  const s = parseAddr(src)!;
  const d = parseAddr(dst)!;
  const v6 = s.length === 16;
  const len = 8 + payload.length;
  const pkt = buildIp(v6, s, d, PROTO_UDP, len, false);
  const o = ipHeaderLen(v6);
  pkt.writeUInt16BE(srcPort, o);
  pkt.writeUInt16BE(dstPort, o + 2);
  pkt.writeUInt16BE(len, o + 4);
  pkt.writeUInt16BE(0, o + 6);
  payload.copy(pkt, o + 8);
  let sum = checksum(pkt, o, o + len, pseudoSum(s, d, PROTO_UDP, len));
  if (sum === 0) sum = 0xffff;
  pkt.writeUInt16BE(sum, o + 6);
  return pkt;
}

/** Parses an output packet back into a TCP segment (+ addresses), or null. */
export function parseOut(pkt: Buffer): (TcpSegment & { src: string; dst: string }) | null {
  const ip = parseIp(pkt);
  if (!ip || ip.proto !== PROTO_TCP) return null;
  const seg = parseTcp(ip.payload, pseudoSum(ip.src, ip.dst, PROTO_TCP, ip.payload.length));
  if (!seg) return null;
  return { ...seg, src: addrToString(ip.src), dst: addrToString(ip.dst) };
}

/** Waits until `cond` holds (polling each turn), failing after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Active timers/immediates (for leak checks). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "Immediate").length;
}

/** A stack driven by hand-built packets; everything it outputs is captured. */
export class RawPeer {
  readonly out: Buffer[] = [];
  readonly accepted: TcpConnection[] = [];
  readonly udp: UdpDatagram[] = [];
  readonly stack: UserspaceNetStack;

  constructor(opts: Partial<CreateNetStackOptions> = {}) {
    this.stack = createNetStack({
      output: (p) => this.out.push(p),
      onTcp: (c) => this.accepted.push(c),
      onUdp: (d) => this.udp.push(d),
      ...opts,
    });
  }

  /** Takes the captured output. */
  take(): Buffer[] {
    return this.out.splice(0);
  }

  /** Takes the captured output parsed as TCP (non-TCP packets are dropped from the result). */
  takeTcp(): (TcpSegment & { src: string; dst: string })[] {
    return this.take().map(parseOut).filter((s): s is TcpSegment & { src: string; dst: string } => s !== null);
  }

  /**
   * Completes a handshake as the client. Returns the accepted connection,
   * our next sequence number and the server's next sequence number.
   */
  handshake(o: RawTcp = {}): { conn: TcpConnection; seq: number; ack: number; synAck: TcpSegment } {
    const isn = o.seq ?? 1000;
    this.stack.input(rawTcp({ ...o, seq: isn, flags: 0x02, mss: o.mss ?? 1460 }));
    const synAck = this.takeTcp().find((s) => s.flags === 0x12);
    if (!synAck) throw new Error("no SYN-ACK");
    const seq = (isn + 1) >>> 0;
    const ack = (synAck.seq + 1) >>> 0;
    this.stack.input(rawTcp({ ...o, seq, ack, flags: 0x10, mss: undefined, wscale: undefined, sackOk: undefined }));
    const conn = this.accepted.at(-1);
    if (!conn) throw new Error("not accepted");
    return { conn, seq, ack, synAck };
  }
}
