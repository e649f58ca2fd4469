/**
 * One agent SSH connection's shared state: who the agent is (flow, endpoint,
 * SSH login), the lazily dialed upstream connections (one per credential —
 * in practice one, since the credential is dispatched by the login name),
 * the abort signal that cancels pending approvals when the agent goes
 * away, and the audit sink. Sessions (./session.ts) and forwards
 * (./forward.ts) hang off it.
 */
import type { Connection } from "ssh2";
import type { Action } from "../../../policy/action.js";
import type { CompiledEndpoint } from "../../../policy/compiled.js";
import type { Destination, Flow } from "../../flow.js";
import { ChannelRecord } from "./audit.js";
import { settleSsh, type GateContext, type GateOutcome } from "./gate.js";
import { DEFAULT_SSH_LIMITS, type SshInterceptDeps, type SshLimits } from "./ports.js";
import { connectUpstream, UpstreamError, type UpstreamConnection } from "./upstream.js";

export class AgentConnection {
  readonly ctx: GateContext;
  readonly limits: SshLimits;
  readonly #abort = new AbortController();
  readonly #upstreams = new Map<string, Promise<UpstreamConnection>>();
  #closed = false;
  /** The ssh2 server-side connection (set once the agent's SSH header arrived). */
  agent: Connection | undefined;

  constructor(
    readonly deps: SshInterceptDeps,
    flow: Flow,
    endpoint: CompiledEndpoint,
    readonly upstream: Destination,
  ) {
    this.limits = { ...DEFAULT_SSH_LIMITS, ...deps.limits };
    const host = upstream.host.includes(":") ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`;
    this.ctx = { flow, endpoint, host, user: "" };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Aborts when the agent connection is gone (pending approvals are cancelled). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** A fresh audit record for a channel action. */
  record(): ChannelRecord {
    return new ChannelRecord(this.deps.now());
  }

  /** Emits a record's audit row (once). */
  emit(rec: ChannelRecord): void {
    const row = rec.finish(this.ctx);
    if (!row) return;
    try {
      this.deps.audit(row);
    } catch (e) {
      this.deps.log.error("audit sink failed", { flow: this.ctx.flow.id, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Decides an action (see ./gate.ts); `signal` defaults to the connection's. */
  settle(action: Action, signal: AbortSignal = this.signal): Promise<GateOutcome> {
    return settleSsh(this.deps, this.ctx, action, signal);
  }

  /**
   * The upstream connection for `credential`, dialed on first use and
   * shared by the connection's channels. Rejects with an
   * {@link UpstreamError} (safe to show the agent); a failed dial is not
   * cached, so a later channel tries again.
   */
  upstreamFor(credential: string): Promise<UpstreamConnection> {
    if (this.#closed) return Promise.reject(new UpstreamError("connection closed", "connect"));
    let p = this.#upstreams.get(credential);
    if (!p) {
      p = this.#dial(credential);
      this.#upstreams.set(credential, p);
      p.then(
        (up) => {
          up.client.on("error", (e: Error) => this.deps.log.debug("upstream ssh error", { flow: this.ctx.flow.id, error: e.message }));
          up.client.once("close", () => {
            if (this.#upstreams.get(credential) === p) this.#upstreams.delete(credential);
          });
          if (this.#closed) up.client.end();
        },
        () => {
          if (this.#upstreams.get(credential) === p) this.#upstreams.delete(credential);
        },
      );
    }
    return p;
  }

  async #dial(credential: string): Promise<UpstreamConnection> {
    const { deps, ctx } = this;
    if (credential === "") throw new UpstreamError(`no credential of profile "${ctx.flow.profile}" is bound to ${ctx.endpoint.key}`, "config");
    let auth;
    try {
      auth = deps.upstreamAuth(credential);
    } catch (e) {
      throw new UpstreamError(`credential "${credential}" unavailable: ${e instanceof Error ? e.message : "error"}`, "config");
    }
    if (!auth.ok) throw new UpstreamError(`credential "${credential}" unusable: ${auth.error}`, "config");
    let address: string;
    try {
      address = await deps.resolve(this.upstream.host);
    } catch (e) {
      throw new UpstreamError(`cannot resolve ${this.upstream.host}: ${e instanceof Error ? e.message : String(e)}`, "connect");
    }
    const up = await connectUpstream({
      address,
      port: this.upstream.port,
      host: this.upstream.host,
      username: ctx.user,
      auth: auth.auth,
      timeoutMs: this.limits.upstreamConnectMs,
    });
    deps.log.info("ssh upstream connected", { flow: ctx.flow.id, endpoint: ctx.endpoint.key, upstream: ctx.host, credential, hostKey: up.hostKeyFingerprint });
    return up;
  }

  /** Ends everything: cancels pending approvals, closes upstream connections. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const p of this.#upstreams.values()) p.then((up) => up.client.end(), () => {});
    this.#upstreams.clear();
  }
}
