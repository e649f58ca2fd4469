/**
 * One peer's userspace network stack: demultiplexes IP packets from the
 * WireGuard device to TCP connections (by 4-tuple), accepts SYNs to any
 * destination address and port (passive open), hands UDP datagrams out,
 * answers pings, and resets everything else.
 */
import { randomInt } from "node:crypto";
import type { IpPort, NetStack, NetStackOptions, UdpDatagram } from "./api.js";
import {
  addrToString, buildIp, ipHeaderLen, isMulticastOrBroadcast, parseAddr, parseIp, pseudoSum,
  PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
} from "./ip4.js";
import { St, TcpConn, type ConnHost, type TcpTuning } from "./tcp-conn.js";
import { ACK, FIN, RST, SYN, parseTcp, seqAdd, tcpHeaderLen, writeTcp, type TcpHeaderOut, type TcpSegment } from "./tcp-segment.js";
import { buildUdp, echoReply, parseUdp } from "./udp.js";

/** Tuning knobs beyond the seam's options (tests and benchmarks). */
export interface NetStackTuning extends TcpTuning {
  maxConnections: number;
}

export const DEFAULT_TUNING: NetStackTuning = {
  maxConnections: 4096,
  rcvBuf: 256 * 1024,
  sndBuf: 256 * 1024,
  rtoMin: 200, // RFC 6298 says 1 s; 200 ms like Linux — the peer is one tunnel hop away
  rtoMax: 60_000,
  rtoInitial: 1000,
  maxRetries: 12,
  synRetries: 5,
  timeWait: 1000, // shortened 2MSL (we are nearly always the passive closer)
};

export type CreateNetStackOptions = NetStackOptions & Partial<NetStackTuning>;

export function createNetStack(opts: CreateNetStackOptions): UserspaceNetStack {
  return new UserspaceNetStack(opts);
}

export class UserspaceNetStack implements NetStack, ConnHost {
  readonly mtu: number;
  readonly tuning: NetStackTuning;
  private readonly table = new Map<string, TcpConn>();
  private readonly dirty = new Set<TcpConn>();
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  /** Counters for debugging and tests. */
  readonly stats = { dropped: 0, rstSent: 0, tcpIn: 0, udpIn: 0, echo: 0 };

  constructor(private readonly opts: CreateNetStackOptions) {
    this.mtu = Math.max(576, Math.min(opts.mtu ?? 1420, 65535));
    const t: NetStackTuning = { ...DEFAULT_TUNING };
    for (const k of Object.keys(DEFAULT_TUNING) as (keyof NetStackTuning)[]) {
      const v = opts[k];
      if (typeof v === "number" && Number.isFinite(v) && v >= 0) t[k] = v;
    }
    t.rcvBuf = Math.max(t.rcvBuf, 4 * this.mtu);
    t.sndBuf = Math.max(t.sndBuf, 1);
    this.tuning = t;
  }

  get connections(): number {
    return this.table.size;
  }

  // ---------------------------------------------------------------- ConnHost

  send(pkt: Buffer): void {
    if (this.closed && !this.closing) return;
    try {
      this.opts.output(pkt);
    } catch {
      // The device's problem; a packet is lost, TCP recovers.
    }
  }

  schedule(conn: TcpConn): void {
    this.dirty.add(conn);
    if (!this.immediate && !this.closed) this.immediate = setImmediate(this.runDirty);
  }

  private readonly runDirty = (): void => {
    this.immediate = null;
    for (const c of this.dirty) {
      this.dirty.delete(c);
      try {
        c.flush();
      } catch {
        c.abort(null, true);
      }
    }
  };

  remove(conn: TcpConn): void {
    if (this.table.get(conn.key) === conn) this.table.delete(conn.key);
    this.dirty.delete(conn);
  }

  established(conn: TcpConn): void {
    this.opts.onTcp(conn);
  }

  // ------------------------------------------------------------------- input

  input(packet: Buffer): void {
    if (this.closed) return;
    try {
      const ip = parseIp(packet);
      if (!ip) return this.drop();
      switch (ip.proto) {
        case PROTO_TCP:
          return this.tcpInput(ip.v6, ip.src, ip.dst, ip.payload);
        case PROTO_UDP:
          return this.udpInput(ip.v6, ip.src, ip.dst, ip.payload);
        case PROTO_ICMP:
        case PROTO_ICMPV6: {
          if ((ip.proto === PROTO_ICMPV6) !== ip.v6) return this.drop();
          if (isMulticastOrBroadcast(ip.dst) || isMulticastOrBroadcast(ip.src)) return this.drop();
          const reply = echoReply(ip.v6, ip.src, ip.dst, ip.payload, this.mtu);
          if (!reply) return this.drop(); // other ICMP (unreachables, ...) is ignored
          this.stats.echo++;
          return this.send(reply);
        }
        default:
          return this.drop();
      }
    } catch {
      this.drop(); // never throw on hostile input
    }
  }

  private drop(): void {
    this.stats.dropped++;
  }

  private tcpInput(v6: boolean, src: Buffer, dst: Buffer, body: Buffer): void {
    const seg = parseTcp(body, pseudoSum(src, dst, PROTO_TCP, body.length));
    if (!seg || seg.srcPort === 0 || seg.dstPort === 0) return this.drop();
    if (isMulticastOrBroadcast(src) || isMulticastOrBroadcast(dst)) return this.drop();
    this.stats.tcpIn++;
    const key = connKey(src, seg.srcPort, dst, seg.dstPort);
    let conn = this.table.get(key);
    if (conn && conn.state === St.TimeWait && seg.flags & SYN && !(seg.flags & (ACK | RST))) {
      // A new incarnation of a connection in TIME-WAIT (RFC 1122 §4.2.2.13): accept it.
      conn.abort(null, false);
      conn = undefined;
    }
    if (conn) return conn.segmentArrives(seg);
    this.listen(v6, src, dst, seg, key);
  }

  /** LISTEN for every address and port (RFC 9293 §3.10.7.2), CLOSED replies otherwise (§3.10.7.1). */
  private listen(v6: boolean, src: Buffer, dst: Buffer, seg: TcpSegment, key: string): void {
    const f = seg.flags;
    if (f & RST) return;
    if (f & ACK) return this.reset(v6, src, dst, seg, seg.ack, 0, RST);
    if (!(f & SYN) || f & FIN) {
      return this.drop();
    }
    if (this.table.size >= this.tuning.maxConnections && !this.evictTimeWait()) {
      return this.reset(v6, src, dst, seg, 0, seqAdd(seg.seq, 1 + seg.payload.length), RST | ACK);
    }
    const conn = TcpConn.passive(this, v6, dst, src, seg, randomInt(0, 0x100000000));
    conn.key = key;
    // A peer's reset must never crash the gateway: the stream always has one
    // (silent) 'error' listener; handlers add their own.
    conn.on("error", noop);
    this.table.set(key, conn);
  }

  private evictTimeWait(): boolean {
    for (const c of this.table.values()) {
      if (c.state === St.TimeWait) {
        c.abort(null, false);
        return true;
      }
    }
    return false;
  }

  private reset(v6: boolean, src: Buffer, dst: Buffer, seg: TcpSegment, seq: number, ack: number, flags: number): void {
    const h: TcpHeaderOut = { srcPort: seg.dstPort, dstPort: seg.srcPort, seq, ack, flags, window: 0 };
    const hl = tcpHeaderLen(h);
    const pkt = buildIp(v6, dst, src, PROTO_TCP, hl);
    writeTcp(pkt, ipHeaderLen(v6), h, 0, pseudoSum(dst, src, PROTO_TCP, hl));
    this.stats.rstSent++;
    this.send(pkt);
  }

  private udpInput(v6: boolean, src: Buffer, dst: Buffer, body: Buffer): void {
    const u = parseUdp(body, v6, src, dst);
    if (!u) return this.drop();
    this.stats.udpIn++;
    const local = Buffer.from(dst);
    const remote = Buffer.from(src);
    const srcEp: IpPort = { address: addrToString(remote), port: u.srcPort };
    const dstEp: IpPort = { address: addrToString(local), port: u.dstPort };
    const dgram: UdpDatagram = {
      src: srcEp,
      dst: dstEp,
      payload: Buffer.from(u.payload),
      reply: (payload: Buffer) => {
        if (this.closed) return;
        for (const p of buildUdp(v6, local, dstEp.port, remote, srcEp.port, payload, this.mtu)) this.send(p);
      },
    };
    this.opts.onUdp(dgram);
  }

  // ------------------------------------------------------------ active open

  /**
   * Active open from `local` to `remote` (loopback tests and benchmarks:
   * two stacks wired back to back). Emits 'connect' when established.
   */
  connect(local: IpPort, remote: IpPort): TcpConn {
    const la = parseAddr(local.address);
    const ra = parseAddr(remote.address);
    if (!la || !ra || la.length !== ra.length) throw new Error("connect: bad or mixed-family addresses");
    const key = connKey(ra, remote.port, la, local.port);
    if (this.table.has(key)) throw new Error("connect: 4-tuple in use");
    const conn = TcpConn.active(this, la.length === 16, la, local.port, ra, remote.port, randomInt(0, 0x100000000));
    conn.key = key;
    this.table.set(key, conn);
    return conn;
  }

  // ------------------------------------------------------------------ close

  private closing = false;

  close(): void {
    if (this.closed) return;
    this.closing = true;
    this.closed = true;
    for (const c of [...this.table.values()]) c.abort(null, true);
    this.table.clear();
    this.dirty.clear();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.closing = false;
  }
}

function noop(): void {}

function connKey(remote: Uint8Array, remotePort: number, local: Uint8Array, localPort: number): string {
  return `${Buffer.from(remote.buffer, remote.byteOffset, remote.length).toString("hex")}:${remotePort}>${Buffer.from(local.buffer, local.byteOffset, local.length).toString("hex")}:${localPort}`;
}
