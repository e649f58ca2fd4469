/**
 * The vocabulary a TCP connection shares with its stack and with the modules
 * that operate on it: connection states, tuning, the host seam, the kinds of
 * its single timer, and the coded errors it surfaces on the stream.
 *
 * Kept apart from ./tcp-conn.ts so that ./tcp-input.ts, ./tcp-output.ts and
 * ./tcp-retransmit.ts can use these without importing the connection class
 * at runtime (no module cycle). ./tcp-conn.ts re-exports what its importers
 * use, so they keep importing from there.
 */
import type { TcpConn } from "./tcp-conn.js";

export const enum St {
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
  Closed,
}

export interface TcpTuning {
  /** Receive buffer = maximum advertised window (bytes). */
  rcvBuf: number;
  /** Send buffer bound before the writer is backpressured (bytes). */
  sndBuf: number;
  rtoMin: number;
  rtoMax: number;
  rtoInitial: number;
  /** Consecutive unanswered retransmissions (or window probes) before the connection is aborted. */
  maxRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is forgotten. */
  synRetries: number;
  /** TIME-WAIT duration (ms). */
  timeWait: number;
}

/** What a connection needs from its stack. */
export interface ConnHost {
  mtu: number;
  tuning: TcpTuning;
  send(pkt: Buffer): void;
  /** Flushes the connection at the end of this event-loop turn. */
  schedule(conn: TcpConn): void;
  /** The connection left the table (CLOSED). */
  remove(conn: TcpConn): void;
  /** Passive open completed. */
  established(conn: TcpConn): void;
}

/** What the connection's one timer is armed for. */
export const enum Timer {
  None = 0,
  Rtx = 1,
  Persist = 2,
  TimeWait = 3,
}

export function errWithCode(msg: string, code: string): Error {
  return Object.assign(new Error(msg), { code });
}
