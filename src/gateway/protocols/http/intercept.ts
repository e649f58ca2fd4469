/**
 * The HTTPS interception engine for the `http` and `k8s` families: what the
 * dispatcher hands a flow to once an `https` or `kubernetes` endpoint of
 * the device's profile claimed it (ARCHITECTURE §2).
 *
 * TLS is terminated toward the agent with a leaf minted for the name the
 * agent asked for (SNI, else the destination address — kubernetes by IP),
 * ALPN `http/1.1` only. The decrypted stream is handed to one shared Node
 * `http.Server` (never listening, only fed connections), which parses
 * HTTP/1.1 with keep-alive; every request then runs through
 * ./exchange.ts, every upgrade through ./upgrade.ts.
 *
 * Node enforces `headersTimeout` / `requestTimeout` only on servers that
 * listen, so the header deadline is kept here, per connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import type { Destination, Flow } from "../../flow.js";
import { handleExchange, type ExchangeEnv } from "./exchange.js";
import { UpstreamPool } from "./pool.js";
import type { HttpInterceptDeps, InterceptEndpoint, TlsHello } from "./ports.js";
import type { ConnContext } from "./request.js";
import { handleUpgrade } from "./upgrade.js";

export interface HttpInterceptorOptions {
  /** Time for the agent to complete the TLS handshake, ms. Default 15 s. */
  handshakeTimeoutMs?: number;
  /** Time for a complete request head, counted from the handshake or the previous response, ms. Default 60 s. */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections toward the agent are closed after this, ms. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /** Idle pooled upstream connections are closed after this, ms. Default 30 s. */
  upstreamIdleMs?: number;
  /** Largest request head accepted (bytes); larger gets 431. Default 16 KiB (Node's). */
  maxHeaderSize?: number;
}

interface ConnState<E extends InterceptEndpoint> extends ConnContext<E> {
  socket: TLSSocket;
  headTimer: NodeJS.Timeout | undefined;
}

/**
 * Terminates TLS and serves HTTP/1.1 on flows the dispatcher claimed for
 * an `https` or `kubernetes` endpoint. One instance serves every such flow.
 */
export class HttpInterceptor<E extends InterceptEndpoint = InterceptEndpoint> {
  readonly #deps: HttpInterceptDeps<E>;
  readonly #server: Server;
  readonly #pool: UpstreamPool;
  readonly #conns = new WeakMap<Duplex, ConnState<E>>();
  readonly #live = new Set<ConnState<E>>();
  readonly #env: ExchangeEnv<E>;
  readonly #handshakeMs: number;
  readonly #headersMs: number;
  #closing = false;

  constructor(deps: HttpInterceptDeps<E>, opts: HttpInterceptorOptions = {}) {
    this.#deps = deps;
    this.#handshakeMs = opts.handshakeTimeoutMs ?? 15_000;
    this.#headersMs = opts.headersTimeoutMs ?? 60_000;
    this.#pool = new UpstreamPool((host) => deps.resolve(host), { idleMs: opts.upstreamIdleMs ?? 30_000 });
    this.#env = { deps, pool: this.#pool, closing: () => this.#closing };
    this.#server = createServer({
      // Enforced per connection below instead (see the module comment).
      requestTimeout: 0,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      maxHeaderSize: opts.maxHeaderSize ?? 16 * 1024,
      // Duplicate headers stay separate values: rules and injectors see the wire.
      joinDuplicateHeaders: false,
    });
    this.#server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    this.#server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    this.#server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => this.#onClientError(err, socket));
    // CONNECT inside the tunnel would open a second hop the policy never sees.
    this.#server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
      socket.end("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
  }

  /** Connections currently open toward agents. */
  get connections(): number {
    return this.#live.size;
  }

  /**
   * Takes over a claimed flow (the dispatcher's `InterceptHandler`
   * contract): terminates TLS and serves its requests. `hello` is what the
   * ClientHello peek found (absent: TLS is attempted anyway, without a
   * name); `route.upstream` is where requests go (default: the SNI name,
   * else the destination, at the destination port). The leaf is minted for
   * the SNI, else the destination host. Resolves once the connection is
   * handed to the HTTP parser (or dropped); never rejects — every failure
   * ends in a closed flow and a log line.
   */
  async intercept(flow: Flow, endpoint: E, hello?: TlsHello, route?: { upstream: Destination }): Promise<void> {
    const { log } = this.#deps;
    const stream = flow.stream;
    stream.on("error", (e: NodeJS.ErrnoException) => log.debug("agent stream error", { flow: flow.id, code: e.code }));
    if (endpoint.family !== "http" && endpoint.family !== "k8s") {
      log.error("endpoint family is not served by the HTTP interceptor", { flow: flow.id, endpoint: endpoint.key, family: endpoint.family });
      stream.destroy();
      return;
    }
    if (this.#closing) {
      stream.destroy();
      return;
    }
    const name = serverName(hello?.sni ?? flow.destination.host);
    let secureContext;
    try {
      secureContext = await this.#deps.secureContext(name);
    } catch (e) {
      log.warn("no certificate for server name; closing", { flow: flow.id, name, error: e instanceof Error ? e.message : String(e) });
      stream.destroy();
      return;
    }
    if (stream.destroyed) return;
    if (stream instanceof Socket) stream.setNoDelay(true);

    const socket = new TLSSocket(stream, { isServer: true, secureContext, ALPNProtocols: ["http/1.1"] });
    const upstream = route?.upstream ?? { host: hello?.sni ?? flow.destination.host, port: flow.destination.port };
    const conn: ConnState<E> = {
      flow,
      endpoint,
      name,
      upstream: { host: serverName(upstream.host), port: upstream.port },
      inflight: 0,
      socket,
      headTimer: undefined,
    };
    this.#conns.set(socket, conn);
    this.#live.add(conn);
    const handshake = setTimeout(() => {
      log.debug("TLS handshake timed out", { flow: flow.id, name });
      socket.destroy();
    }, this.#handshakeMs);
    socket.on("error", (e: NodeJS.ErrnoException) => log.debug("agent TLS error", { flow: flow.id, name, code: e.code, error: e.message }));
    socket.once("close", () => {
      clearTimeout(handshake);
      clearTimeout(conn.headTimer);
      this.#live.delete(conn);
      stream.destroy();
    });
    socket.once("secure", () => {
      clearTimeout(handshake);
      this.#armHeadDeadline(conn);
      this.#server.emit("connection", socket);
    });
  }

  /** Starts the wait for the next request head, when nothing is in progress. */
  #armHeadDeadline(conn: ConnState<E>): void {
    clearTimeout(conn.headTimer);
    conn.headTimer = undefined;
    if (conn.inflight > 0 || conn.socket.destroyed) return;
    if (this.#closing) {
      conn.socket.destroy();
      return;
    }
    conn.headTimer = setTimeout(() => {
      if (conn.inflight === 0) conn.socket.destroy();
    }, this.#headersMs);
    conn.headTimer.unref();
  }

  #context(socket: Duplex): ConnState<E> | undefined {
    return this.#conns.get(socket);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.#context(req.socket);
    if (!conn) {
      res.destroy();
      return;
    }
    conn.inflight++;
    clearTimeout(conn.headTimer);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      conn.inflight--;
      this.#armHeadDeadline(conn);
    };
    res.once("close", end);
    void handleExchange(this.#env, conn, req, res);
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = this.#context(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    conn.inflight++;
    clearTimeout(conn.headTimer);
    void handleUpgrade(this.#env, conn, req, socket, head);
  }

  #onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const conn = this.#context(socket);
    this.#deps.log.debug("malformed request from agent", { flow: conn?.flow.id, code: err.code });
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  }

  /**
   * Stops taking flows and drains: idle connections close now, busy ones
   * after their response (new responses say `Connection: close`), and
   * whatever is still open after `graceMs` is cut. Pooled upstream
   * connections are closed last.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.#closing = true;
    for (const c of this.#live) if (c.inflight === 0) c.socket.destroy();
    const deadline = Date.now() + graceMs;
    while (this.#live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of this.#live) c.socket.destroy();
    this.#pool.destroy();
  }
}

/** Canonical server name: lower case, no brackets, no trailing dot. */
function serverName(raw: string): string {
  let s = raw.trim().toLowerCase();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  return s.endsWith(".") ? s.slice(0, -1) : s;
}
