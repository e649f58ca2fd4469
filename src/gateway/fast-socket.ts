/**
 * TCP connections whose reads skip Node's readable-stream machinery.
 *
 * Relaying a small request/response protocol (a Postgres `SELECT` and its
 * row) costs a few µs per read in `Readable.push` and its bookkeeping —
 * measured at ~5 µs per round trip on the upstream side of a pgbench
 * relay, a quarter of a bare Node relay's CPU. Node's `onread` option reads
 * into one reusable buffer and calls back directly instead.
 *
 * To stay a drop-in `net.Socket`, each read is copied out of that buffer
 * (a pooled allocation for small reads — consumers may keep or queue the
 * chunk) and emitted as an ordinary `'data'` event, so existing framing
 * code, `pause()`/`resume()` backpressure (Node stops the handle's reads
 * itself in this mode), `'end'`, `'close'` and `'error'` all behave as
 * before. Only plain TCP: a TLS upgrade needs the socket's own reads.
 */
import { connect, type Socket } from "node:net";

/** Size of the reusable read buffer (a read never returns more). */
const READ_BUFFER = 64 * 1024;

/**
 * `net.connect({host, port})` whose `'data'` events come from a reused
 * read buffer; resolves on connect, rejects on error or after `timeoutMs`.
 */
export function connectFast(host: string, port: number, timeoutMs: number): Promise<Socket> {
  const buffer = Buffer.allocUnsafe(READ_BUFFER);
  const s: Socket = connect({
    host,
    port,
    noDelay: true,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        s.emit("data", Buffer.from(buf.subarray(0, n)));
        return true;
      },
    },
  });
  return whenConnected(s, timeoutMs);
}

/** Resolves `s` once it connects; rejects on its error, or destroys it after `timeoutMs`. */
export function whenConnected(s: Socket, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => s.destroy(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}
