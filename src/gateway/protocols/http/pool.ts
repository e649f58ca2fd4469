/**
 * Upstream connections: one keep-alive agent per (endpoint, credential), so
 * a TLS session established for one credential (an mTLS client certificate,
 * say) is never reused for another, and names are resolved through the
 * gateway's resolver (the static `resolve` map, then DNS) while the
 * certificate is still checked against the name the agent asked for.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent, request as httpsRequest, type RequestOptions } from "node:https";
import type { ClientRequest } from "node:http";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";

export interface PoolOptions {
  /** Idle time before a pooled upstream connection is closed, ms. Default 30 s. */
  idleMs?: number;
  /** Concurrent connections per (endpoint, credential, host). Default 256. */
  maxSockets?: number;
}

/** What to send upstream. */
export interface UpstreamRequest {
  /** Pool key, `endpoint \0 credential`; absent for a one-off connection (upgrades). */
  poolKey?: string;
  /** Host name (or IP) to connect to and verify. */
  host: string;
  port: number;
  tls: ConnectionOptions;
  method: string;
  path: string;
  /** Header lines in order (sent as given: spelling, duplicates). */
  headers: ReadonlyArray<readonly [string, string]>;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The keep-alive agents toward upstreams. */
export class UpstreamPool {
  readonly #agents = new Map<string, Agent>();
  readonly #idleMs: number;
  readonly #maxSockets: number;
  readonly #lookup: (hostname: string, options: { all?: boolean }, cb: LookupCallback) => void;

  constructor(resolve: (host: string) => Promise<string>, opts: PoolOptions = {}) {
    this.#idleMs = opts.idleMs ?? 30_000;
    this.#maxSockets = opts.maxSockets ?? 256;
    this.#lookup = (hostname, options, cb) => {
      resolve(hostname).then(
        (address) => {
          const family = isIP(address);
          if (family === 0) {
            // The resolver named another host: let the system resolve that one.
            dnsLookup(address, { all: options.all === true }, cb as never);
            return;
          }
          if (options.all) cb(null, [{ address, family }]);
          else cb(null, address, family);
        },
        (err: unknown) => {
          const e = (err instanceof Error ? err : new Error(String(err))) as NodeJS.ErrnoException;
          e.code ??= "ENOTFOUND";
          cb(e, "", 0);
        },
      );
    };
  }

  #agent(key: string): Agent {
    let a = this.#agents.get(key);
    if (!a) {
      a = new Agent({ keepAlive: true, maxSockets: this.#maxSockets, maxFreeSockets: 64, timeout: this.#idleMs, scheduling: "lifo" });
      this.#agents.set(key, a);
    }
    return a;
  }

  /** Starts a request upstream; the caller writes the body and listens for `response` / `upgrade` / `error`. */
  request(r: UpstreamRequest): ClientRequest {
    const opts: RequestOptions & ConnectionOptions = {
      ...r.tls,
      // Node's client speaks HTTP/1.1 only: never let upstream pick h2.
      ALPNProtocols: ["http/1.1"],
      host: r.host.startsWith("[") ? r.host.slice(1, -1) : r.host,
      port: r.port,
      method: r.method,
      path: r.path,
      headers: r.headers.flatMap(([k, v]) => [k, v]) as unknown as RequestOptions["headers"],
      setHost: false,
      lookup: this.#lookup as unknown as RequestOptions["lookup"],
      agent: r.poolKey !== undefined ? this.#agent(r.poolKey) : false,
    };
    return httpsRequest(opts);
  }

  /** Closes every pooled connection (shutdown). */
  destroy(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }
}
