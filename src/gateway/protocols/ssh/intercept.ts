/**
 * The SSH runtime for `ssh` endpoints: what the dispatcher hands a flow to
 * once an ssh endpoint of the device's profile claimed it (ARCHITECTURE §2).
 *
 * Toward the agent the gateway is an SSH server (ssh2 `Server`, fed the
 * flow's stream — it never listens) presenting the endpoint's persisted
 * host key. Any authentication the agent offers is accepted — `none`
 * included: the agent holds no key for the upstream and is already
 * identified by its transport (device → profile); its login name is kept,
 * passed upstream unchanged and used to dispatch the credential.
 *
 * Channels: `session` (./session.ts) and `direct-tcpip` (./forward.ts) are
 * gated; everything else — remote forwarding (`tcpip-forward`), agent and
 * X11 forwarding, streamlocal — is refused by not being handled (ssh2
 * answers such requests with a failure), since no rule could see them.
 */
import { Socket } from "node:net";
import ssh2 from "ssh2";
import type { AcceptConnection, AuthContext, Connection, ServerChannel, Session, TcpipRequestInfo } from "ssh2";
import type { CompiledEndpoint } from "../../../policy/compiled.js";
import type { InterceptHandler, InterceptRoute, TlsHello } from "../../dispatch.js";
import type { Flow } from "../../flow.js";
import { AgentConnection } from "./conn.js";
import { serveDirectTcpip } from "./forward.js";
import type { SshInterceptDeps } from "./ports.js";
import { serveSession } from "./session.js";

const { Server } = ssh2;

/** Serves every flow claimed by an `ssh` endpoint. One instance per gateway. */
export class SshInterceptor implements InterceptHandler {
  readonly #deps: SshInterceptDeps;
  readonly #live = new Set<{ conn: AgentConnection; flow: Flow }>();
  #closing = false;

  constructor(deps: SshInterceptDeps) {
    this.#deps = deps;
  }

  /** Agent connections currently open. */
  get connections(): number {
    return this.#live.size;
  }

  intercept(flow: Flow, endpoint: CompiledEndpoint, _tls: TlsHello | undefined, route: InterceptRoute): void {
    const { log } = this.#deps;
    const stream = flow.stream;
    stream.on("error", (e: NodeJS.ErrnoException) => log.debug("agent stream error", { flow: flow.id, code: e.code }));
    if (endpoint.family !== "ssh" || this.#closing) {
      if (endpoint.family !== "ssh") log.error("endpoint family is not served by the SSH runtime", { flow: flow.id, endpoint: endpoint.key });
      stream.destroy();
      return;
    }
    let hostKey;
    try {
      hostKey = this.#deps.hostKey(endpoint.key);
    } catch (e) {
      log.error("ssh host key unavailable; closing", { flow: flow.id, endpoint: endpoint.key, error: e instanceof Error ? e.message : String(e) });
      stream.destroy();
      return;
    }
    const conn = new AgentConnection(this.#deps, flow, endpoint, route.upstream);
    const entry = { conn, flow };
    this.#live.add(entry);
    const handshake = setTimeout(() => {
      log.debug("ssh handshake/login timed out", { flow: flow.id });
      stream.destroy();
    }, conn.limits.handshakeMs);
    handshake.unref();
    stream.once("close", () => {
      clearTimeout(handshake);
      this.#live.delete(entry);
      conn.close();
    });

    // One ssh2 Server per flow: it only parses this stream (injectSocket), and
    // its connection event then belongs to this flow without any bookkeeping.
    const server = new Server({ hostKeys: [hostKey.privateKey], ident: "clawpatrol" });
    server.on("error", () => {});
    server.on("connection", (agent: Connection) => {
      conn.agent = agent;
      agent.on("error", (e: Error) => log.debug("agent ssh error", { flow: flow.id, error: e.message }));
      agent.on("close", () => {
        conn.close();
        stream.destroy();
      });
      agent.on("authentication", (auth: AuthContext) => {
        conn.ctx.user = auth.username;
        auth.accept();
      });
      agent.on("ready", () => {
        clearTimeout(handshake);
        log.info("ssh agent logged in", { flow: flow.id, endpoint: endpoint.key, user: conn.ctx.user, device: flow.device });
      });
      agent.on("session", (accept: AcceptConnection<Session>) => {
        const session = accept();
        if (session) serveSession(conn, session);
      });
      agent.on("tcpip", (accept: AcceptConnection<ServerChannel>, reject: () => void, info: TcpipRequestInfo) => serveDirectTcpip(conn, accept, reject, info));
      agent.on("request", (_accept: unknown, reject: (() => void) | undefined, name: string) => {
        log.info("ssh global request refused (not gateable)", { flow: flow.id, request: name });
        reject?.();
      });
    });
    if (stream instanceof Socket) stream.setNoDelay(true);
    server.injectSocket(stream as never);
  }

  /** Stops taking flows and closes open connections (after `graceMs`; SSH sessions are long-lived, so by default at once). */
  async close(graceMs = 0): Promise<void> {
    this.#closing = true;
    const deadline = Date.now() + graceMs;
    while (this.#live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const { conn, flow } of this.#live) {
      conn.close();
      flow.stream.destroy();
    }
    this.#live.clear();
  }
}
