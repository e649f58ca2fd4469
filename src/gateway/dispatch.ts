/**
 * The dispatcher: the single place every transport's flows go (ARCHITECTURE
 * §2, §5). For each flow it peeks at the first bytes when routing needs the
 * SNI, asks the pure router (./dispatch-route.ts) what to do, and does it:
 * hand the flow to the endpoint runtime of the claiming endpoint's protocol,
 * relay it transparently, or close it.
 *
 * Protocol runtimes plug in through {@link InterceptHandlers}; adding one
 * (postgres, ssh, clickhouse) is a new entry there, never a change here. A
 * claimed endpoint with no runtime yet is closed, not relayed: relaying it
 * would carry agent traffic to an endpoint the policy governs without the
 * policy ever seeing it.
 */
import type { Duplex } from "node:stream";
import type { CompiledEndpoint, CompiledPolicy } from "../policy/compiled.js";
import type { Family } from "../policy/action.js";
import type { Flow, FlowHandler, UpstreamResolver } from "./flow.js";
import { routeFlow, shouldSniff, type FirstBytes, type Route } from "./dispatch-route.js";
import { peekFirstBytes, type Sniffer } from "./dispatch-peek.js";
import { relay, type RelayResult } from "./dispatch-relay.js";
import type { AddressLookup } from "./address-claims.js";

/** Re-exported so runtimes and the composition root import one module. */
export type { FirstBytes, Route } from "./dispatch-route.js";
/** See {@link Sniffer}: the TLS module's `peekClientHello` fits it. */
export type { SniffResult, Sniffer } from "./dispatch-peek.js";

/** What the agent's ClientHello said, for the endpoint runtime (leaf minting, ALPN choice). */
export interface TlsHello {
  sni?: string;
  alpn: readonly string[];
}

/**
 * An endpoint runtime: takes over a flow the router gave to one of its
 * endpoints. The stream is paused with every byte the agent sent still
 * unread. The runtime owns the stream from here (errors, close, upstream
 * dial). It must dial `route.upstream` — when the SNI claimed the flow that
 * is the SNI name, not the address the agent dialed, so an agent cannot
 * steer an injected credential to a host of its choosing.
 */
export interface InterceptHandler {
  /**
   * @param tls the ClientHello's SNI / ALPN, or undefined when the flow did
   *   not open with TLS (or was not sniffed — e.g. postgres, ssh): the
   *   runtime must cope or close.
   */
  intercept(flow: Flow, endpoint: CompiledEndpoint, tls: TlsHello | undefined, route: InterceptRoute): void | Promise<void>;
}

/** The intercept route handed to a runtime. */
export type InterceptRoute = Extract<Route, { kind: "intercept" }>;

/**
 * Endpoint runtimes, looked up by endpoint type first, then by family.
 * Both exist because a family is not a wire protocol: `sql` covers postgres
 * and ClickHouse native, while all of `http` (https, clickhouse_https,
 * openai_codex_https) shares one HTTP runtime.
 */
export interface InterceptHandlers {
  byType?: Readonly<Record<string, InterceptHandler>>;
  byFamily?: Readonly<Partial<Record<Family, InterceptHandler>>>;
}

/** A flow without its stream (what events carry). */
export type FlowInfo = Omit<Flow, "stream">;

/** What the dispatcher reports, for the audit log and the gateway log. */
export type DispatchEvent =
  | { type: "route"; flow: FlowInfo; route: Route; first: FirstBytes }
  | ({ type: "relay-closed"; flow: FlowInfo; route: "relay" | "unknown-host"; durationMs: number } & RelayResult)
  /** The flow was closed by the dispatcher itself (deny, reject, no runtime, sniff failure, runtime error). */
  | { type: "flow-closed"; flow: FlowInfo; reason: string };

/** Everything the dispatcher depends on is injected, so tests and the composition root wire it alike. */
export interface DispatcherOptions {
  /** The current policy; read per flow because policies hot-reload. */
  policy: () => CompiledPolicy;
  resolver: UpstreamResolver;
  /** ClientHello sniffer (the TLS module's `peekClientHello`). */
  sniff: Sniffer;
  handlers?: InterceptHandlers;
  /** Endpoints claimed by resolved address (read per flow: rebuilt when the policy reloads). */
  addresses?: () => AddressLookup | undefined;
  onEvent?: (e: DispatchEvent) => void;
  /** Sniff budget (default 3 s): a server-speaks-first protocol waits this long once. */
  sniffTimeoutMs?: number;
  /** Most bytes read while sniffing (default 64 KiB). */
  maxSniffBytes?: number;
  /** Resolve + connect budget for relays (default 10 s). */
  connectTimeoutMs?: number;
  /** Relay idle timeout (default 0: none — ssh sessions and long polls idle legitimately). */
  idleTimeoutMs?: number;
}

/** Routes flows from every transport; see the module comment. */
export class Dispatcher implements FlowHandler {
  readonly #opts: DispatcherOptions;
  readonly #active = new Set<Duplex>();
  #closed = false;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
  }

  /** Flows currently owned by the dispatcher (relays in progress, sniffs pending). */
  get activeFlows(): number {
    return this.#active.size;
  }

  handleFlow(flow: Flow): void {
    const stream = flow.stream;
    if (this.#closed) {
      stream.destroy();
      return;
    }
    // Always have an error listener: an unhandled 'error' would crash the gateway.
    stream.on("error", () => stream.destroy());
    this.#active.add(stream);
    stream.once("close", () => this.#active.delete(stream));
    this.#dispatch(flow).catch((err: unknown) => this.#close(flow, `internal error: ${(err as Error)?.message ?? String(err)}`));
  }

  /** Stops taking flows and destroys those in progress (intercepted flows belong to their runtimes). */
  close(): void {
    this.#closed = true;
    for (const s of this.#active) s.destroy();
    this.#active.clear();
  }

  async #dispatch(flow: Flow): Promise<void> {
    let first: FirstBytes = { kind: "unsniffed" };
    if (shouldSniff(this.#opts.policy(), flow)) {
      const peek = await peekFirstBytes(flow.stream, this.#opts.sniff, {
        ...(this.#opts.sniffTimeoutMs !== undefined ? { timeoutMs: this.#opts.sniffTimeoutMs } : {}),
        ...(this.#opts.maxSniffBytes !== undefined ? { maxBytes: this.#opts.maxSniffBytes } : {}),
      });
      if (peek.kind === "closed") return this.#close(flow, peek.reason);
      first = peek.first;
    }
    // Re-read: a reload during the sniff must apply to this flow.
    const route = routeFlow(this.#opts.policy(), flow, first, this.#opts.addresses?.());
    this.#emit({ type: "route", flow: info(flow), route, first });
    switch (route.kind) {
      case "reject":
        return this.#close(flow, route.reason);
      case "unknown-host":
        if (route.action === "deny") return this.#close(flow, `unknown host ${route.sni ?? flow.destination.host} denied (defaults.unknown_host)`);
        return this.#relay(flow, "unknown-host");
      case "relay":
        return this.#relay(flow, "relay");
      case "intercept":
        return this.#intercept(flow, route, first);
    }
  }

  async #intercept(flow: Flow, route: InterceptRoute, first: FirstBytes): Promise<void> {
    const ep = route.endpoint;
    const h = this.#opts.handlers;
    const handler =
      (h?.byType && Object.hasOwn(h.byType, ep.type) ? h.byType[ep.type] : undefined) ??
      (h?.byFamily && Object.hasOwn(h.byFamily, ep.family) ? h.byFamily[ep.family] : undefined);
    if (!handler) return this.#close(flow, `no runtime for ${ep.type} endpoints yet (endpoint ${ep.key}); closed`);
    const tls: TlsHello | undefined =
      first.kind === "tls" ? (first.sni !== undefined ? { sni: first.sni, alpn: first.alpn } : { alpn: first.alpn }) : undefined;
    // The runtime owns the stream now; the dispatcher no longer drains it.
    this.#active.delete(flow.stream);
    try {
      await handler.intercept(flow, ep, tls, route);
    } catch (err) {
      this.#close(flow, `${ep.type} runtime failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  async #relay(flow: Flow, kind: "relay" | "unknown-host"): Promise<void> {
    const started = Date.now();
    const opts = {
      resolver: this.#opts.resolver,
      ...(this.#opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.#opts.connectTimeoutMs } : {}),
      ...(this.#opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.#opts.idleTimeoutMs } : {}),
    };
    const result = await relay(flow.stream, flow.destination, opts);
    this.#emit({ type: "relay-closed", flow: info(flow), route: kind, durationMs: Date.now() - started, ...result });
  }

  #close(flow: Flow, reason: string): void {
    flow.stream.destroy();
    this.#emit({ type: "flow-closed", flow: info(flow), reason });
  }

  #emit(e: DispatchEvent): void {
    try {
      this.#opts.onEvent?.(e);
    } catch {
      /* an observer must not break dispatch */
    }
  }
}

function info(flow: Flow): FlowInfo {
  const { stream: _stream, ...rest } = flow;
  return rest;
}
