/**
 * The seam between the WireGuard device (./../wireguard/) and the userspace
 * network stack (this folder): the device decrypts IP packets from a peer
 * and hands them to that peer's {@link NetStack}; the stack terminates TCP
 * and UDP to *any* destination and hands back IP packets to encrypt.
 * Connections come out as Node streams carrying their original 4-tuple, so
 * the WireGuard transport can turn each into a dispatcher Flow.
 */
import type { Duplex } from "node:stream";

/** An IP endpoint. IPv6 without brackets. */
export interface IpPort {
  address: string;
  port: number;
}

/** A TCP connection the stack accepted: the agent side of a flow. */
export interface TcpConnection extends Duplex {
  /** Where the peer sent its SYN: the destination it meant to reach. */
  readonly localEndpoint: IpPort;
  /** The peer's own address and port (its tunnel address). */
  readonly remoteEndpoint: IpPort;
}

/** A UDP datagram from the peer, with a way to answer from the address it was sent to. */
export interface UdpDatagram {
  src: IpPort;
  dst: IpPort;
  payload: Buffer;
  reply(payload: Buffer): void;
}

export interface NetStackOptions {
  /** Sends one IP packet toward the peer (the device encrypts it). */
  output(packet: Buffer): void;
  /** A new TCP connection (after the handshake completed). */
  onTcp(conn: TcpConnection): void;
  /** A UDP datagram (DNS on port 53, or anything else). */
  onUdp(datagram: UdpDatagram): void;
  /** Link MTU (the WireGuard interface's, default 1420). */
  mtu?: number;
  /** Concurrent TCP connections (any state); SYNs beyond it are answered with RST. Default 4096. */
  maxConnections?: number;
}

/** One peer's network stack. */
export interface NetStack {
  /** Feeds one IP packet received from the peer. Malformed packets are dropped, never thrown. */
  input(packet: Buffer): void;
  /** Resets every connection and stops timers. */
  close(): void;
  /** Live TCP connections (for leak checks and metrics). */
  readonly connections: number;
}
