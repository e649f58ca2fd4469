/**
 * The agent-facing web paths as served *inside the WireGuard tunnel*
 * (`http://<gateway tunnel address>:<dashboard port>/`): the CA, `/info`,
 * `/healthz` and enrollment status — nothing else. Agents in the tunnel
 * never reach the management API, the login or the dashboard (ARCHITECTURE
 * §6.3): this is a separate `http.Server` with its own allowlist, not the
 * management server, so a route added to the management API can never leak
 * into the tunnel by accident.
 *
 * The transport hands it each accepted tunnel connection (a Duplex) through
 * {@link AgentServer.handleConnection}; it never listens on a port itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { AuthService } from "./auth/service.js";
import type { Ctx, HandlerTable } from "./context.js";
import type { WebDeps } from "./deps.js";
import { HttpError, sendError, setSecurityHeaders } from "./http.js";
import { matchRoute } from "./router.js";
import { enrollRoutes } from "./routes/enroll.js";
import { publicRoutes } from "./routes/public.js";
import { sessionTtlOf } from "./session-ttl.js";

/** The only routes served in the tunnel (keys as in ROUTES). */
export const AGENT_ROUTES: readonly string[] = ["GET /ca.crt", "GET /info", "GET /healthz", "GET /api/enroll/:id"];

export interface AgentServer {
  /** Serves HTTP/1.1 on one tunnel connection. */
  handleConnection(stream: Duplex): void;
  close(): void;
}

export function createAgentServer(deps: WebDeps): AgentServer {
  const now = deps.now ?? Date.now;
  // Handlers take a Ctx; none of the allowed ones authenticates, the service is only there to fill it.
  const auth = new AuthService(deps.store.users, () => sessionTtlOf(deps), now);
  const table: HandlerTable = {};
  for (const k of AGENT_ROUTES) {
    const h = publicRoutes[k] ?? enrollRoutes[k];
    if (!h) throw new Error(`agent server: no handler for ${k}`);
    table[k] = h;
  }
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      deps.log.error("tunnel web request failed", { error: (e as Error).message });
      if (!res.headersSent) sendError(res, 500, "internal error");
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://gateway.invalid");
    } catch {
      sendError(res, 400, "bad request");
      return;
    }
    setSecurityHeaders(res, url.pathname);
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
    const match = matchRoute(method, url.pathname);
    if (match.kind !== "route" || !table[match.route.key]) {
      sendError(res, 404, "not available inside the tunnel (only /ca.crt, /info, /healthz and enrollment status are)");
      return;
    }
    const ctx: Ctx = {
      req,
      res,
      path: url.pathname,
      query: url.searchParams,
      params: match.params,
      principal: undefined,
      deps,
      auth,
      secure: false,
      ip: "",
      now,
    };
    try {
      await table[match.route.key]!(ctx);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (res.headersSent) res.end();
      else sendError(res, e.status, e.message, e.extra ?? {}, e.headers ?? {});
    }
  }

  return {
    handleConnection(stream) {
      server.emit("connection", stream);
    },
    close() {
      server.closeAllConnections();
    },
  };
}
