/**
 * The transparent TCP relay: resolve, connect (bounded), then splice both
 * directions with backpressure and half-close — a client's FIN reaches the
 * upstream as a FIN while the response keeps flowing back, and the other
 * way round. Any error, abort or timeout on either side tears down both.
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Destination, UpstreamResolver } from "./flow.js";

/** How upstreams are found and how long a relay may wait on them. */
export interface RelayOptions {
  resolver: UpstreamResolver;
  /** Resolve + TCP connect must finish within this (default 10 s). */
  connectTimeoutMs?: number;
  /** Tear down after this long without traffic on the upstream socket (default 0: never). */
  idleTimeoutMs?: number;
}

/** How a relay ended (for the audit event). */
export interface RelayResult {
  /** The address actually dialed, "ip:port" (absent when resolution failed). */
  upstream?: string;
  /** Bytes agent → upstream and upstream → agent. */
  bytesUp: number;
  bytesDown: number;
  /** Why it ended abnormally; absent for a clean close in both directions. */
  error?: string;
}

/**
 * Relays `client` to `destination`. Resolves once both sides are closed;
 * never rejects. The client stream may be paused with bytes pushed back
 * into it (sniffing); they are the first bytes sent upstream.
 */
export function relay(client: Duplex, destination: Destination, opts: RelayOptions): Promise<RelayResult> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const result: RelayResult = { bytesUp: 0, bytesDown: 0 };
    let upstream: net.Socket | undefined;
    let finished = false;
    let clientClosed = client.destroyed;
    let upstreamClosed = false;

    const maybeDone = () => {
      if (finished || !clientClosed || (upstream !== undefined && !upstreamClosed)) return;
      finished = true;
      if (upstream) {
        result.bytesUp = upstream.bytesWritten;
        result.bytesDown = upstream.bytesRead;
      }
      resolve(result);
    };
    const teardown = (why: string) => {
      result.error ??= why;
      clearTimeout(connectTimer);
      client.destroy();
      upstream?.destroy();
      maybeDone();
    };

    client.on("error", (err: Error) => teardown(`client: ${err.message}`));
    client.once("close", () => {
      clientClosed = true;
      // A client that closed without finishing its side (reset, destroyed
      // by shutdown) leaves nothing worth relaying.
      if (!client.readableEnded) teardown("client closed");
      maybeDone();
    });

    const connectTimer = setTimeout(() => teardown(`connect timeout after ${connectTimeoutMs} ms`), connectTimeoutMs);
    connectTimer.unref?.();

    opts.resolver.resolve(destination.host).then(
      (address) => {
        if (result.error !== undefined || clientClosed) return maybeDone();
        result.upstream = net.isIPv6(address) ? `[${address}]:${destination.port}` : `${address}:${destination.port}`;
        const up = net.connect({ host: address, port: destination.port, allowHalfOpen: true });
        upstream = up;
        up.on("error", (err) => teardown(`upstream: ${err.message}`));
        up.once("close", () => {
          upstreamClosed = true;
          if (!up.readableEnded) teardown("upstream closed");
          maybeDone();
        });
        up.once("connect", () => {
          clearTimeout(connectTimer);
          up.setNoDelay(true);
          if (opts.idleTimeoutMs) {
            up.setTimeout(opts.idleTimeoutMs, () => teardown(`idle for ${opts.idleTimeoutMs} ms`));
          }
          // pipe() gives backpressure both ways and ends the destination's
          // writable side when the source ends (half-close).
          client.pipe(up);
          up.pipe(client);
        });
      },
      (err: unknown) => teardown(`resolve ${destination.host}: ${(err as Error)?.message ?? String(err)}`),
    );
  });
}
