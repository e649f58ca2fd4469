/**
 * The TCP listener the local transports (`proxy`, `forward`) share: bind,
 * accept, track connections that have not yet become flows, close.
 *
 * A connection belongs to the listener only until it is handed to the
 * {@link FlowHandler}; from then on the dispatcher owns it (and drains or
 * destroys it on shutdown). That split keeps shutdown order simple: close
 * the listeners first (no new flows, half-done handshakes dropped), then
 * the dispatcher.
 */
import net from "node:net";
import { randomUUID } from "node:crypto";
import type { Destination, Flow, FlowHandler, TransportKind } from "../flow.js";
import { splitHostPort } from "../../types/formats.js";

/** A diagnostic about one connection (for the gateway log); never carries payload bytes. */
export interface TransportLogEvent {
  transport: TransportKind;
  listen: string;
  peer?: string;
  /** Short machine-friendly reason ("handshake timeout", "BIND is not supported", ...). */
  reason: string;
}

/** Options every local listener takes. */
export interface ListenerOptions {
  /** "host:port"; port 0 lets the OS choose (tests). */
  listen: string;
  profile: string;
  device: string;
  handler: FlowHandler;
  /** Called when a connection is refused or fails before it becomes a flow. */
  onLog?: (e: TransportLogEvent) => void;
}

/** Splits a validated "host:port" into what `server.listen` takes ("" host: every interface). */
export function parseListen(listen: string): { host: string; port: number } {
  const split = splitHostPort(listen);
  if (!split.ok || split.value.port === undefined || !/^\d+$/.test(split.value.port)) {
    throw new Error(`invalid listen address ${JSON.stringify(listen)}`);
  }
  return { host: split.value.host, port: Number(split.value.port) };
}

/** Base class: subclasses implement {@link accept} and call {@link handOff} once a socket is a flow. */
export abstract class LocalListener {
  readonly #server: net.Server;
  readonly #pending = new Set<net.Socket>();
  protected readonly opts: ListenerOptions;
  protected abstract readonly kind: TransportKind;

  constructor(opts: ListenerOptions) {
    this.opts = opts;
    // allowHalfOpen: a client's FIN must reach the upstream as a FIN while
    // the response keeps flowing back (the relay propagates each direction).
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.#onConnection(socket));
    this.#server.on("error", () => {
      /* reported through start(); later errors (EMFILE on accept) must not crash the gateway */
    });
  }

  /** Binds the port; resolves with the bound address (useful with port 0). */
  start(): Promise<net.AddressInfo> {
    const { host, port } = parseListen(this.opts.listen);
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once("error", onError);
      this.#server.listen({ host: host === "" ? undefined : host, port }, () => {
        this.#server.off("error", onError);
        resolve(this.#server.address() as net.AddressInfo);
      });
    });
  }

  /** The bound address (after {@link start}). */
  address(): net.AddressInfo {
    return this.#server.address() as net.AddressInfo;
  }

  /**
   * Stops accepting and drops connections still in their handshake. Flows
   * already handed off are the dispatcher's to drain; this does not wait
   * for them.
   */
  close(): Promise<void> {
    for (const s of this.#pending) s.destroy();
    this.#pending.clear();
    if (!this.#server.listening) return Promise.resolve();
    this.#server.close();
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Connections accepted but not yet flows (for tests and shutdown). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  #onConnection(socket: net.Socket): void {
    this.#pending.add(socket);
    socket.once("close", () => this.#pending.delete(socket));
    // A listener is attached for the socket's whole life: an 'error' with
    // none would crash the process. Whoever owns the socket tears it down.
    socket.on("error", () => socket.destroy());
    try {
      socket.setNoDelay(true);
      this.accept(socket);
    } catch (err) {
      this.log(socket, `internal error: ${(err as Error).message}`);
      socket.destroy();
    }
  }

  /** Takes over a freshly accepted socket. */
  protected abstract accept(socket: net.Socket): void;

  /** Reports a refused / failed connection. */
  protected log(socket: net.Socket, reason: string): void {
    const e: TransportLogEvent = { transport: this.kind, listen: this.opts.listen, reason };
    if (socket.remoteAddress) e.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    try {
      this.opts.onLog?.(e);
    } catch {
      /* a logging hook must not break the transport */
    }
  }

  /** Turns the socket into a flow and hands it to the dispatcher. */
  protected handOff(socket: net.Socket, destination: Destination): void {
    this.#pending.delete(socket);
    const flow: Flow = {
      id: randomUUID(),
      stream: socket,
      destination,
      device: this.opts.device,
      profile: this.opts.profile,
      transport: this.kind,
    };
    if (socket.remoteAddress !== undefined && socket.remotePort !== undefined) {
      flow.peer = { address: socket.remoteAddress, port: socket.remotePort };
    }
    try {
      this.opts.handler.handleFlow(flow);
    } catch (err) {
      this.log(socket, `flow handler threw: ${(err as Error).message}`);
      socket.destroy();
    }
  }
}
