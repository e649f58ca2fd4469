/**
 * The gateway's web listener on `dashboard_listen`: the agent-facing
 * public paths (`/ca.crt`, `/info`, `/healthz`), the management API
 * (table-driven from ROUTES in ./api.ts, access enforced centrally by
 * ./router.ts), and the dashboard SPA from `dist/dashboard/`.
 *
 * No web framework: node:http plus a table router keeps every byte of the
 * auth path in this repository (docs/decisions.md).
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, relative, resolve as resolvePath, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ROUTES } from "./api.js";
import { AuthService } from "./auth/service.js";
import { sessionTtlOf } from "./session-ttl.js";
import type { Ctx, HandlerTable } from "./context.js";
import type { WebDeps } from "./deps.js";
import { HttpError, sendError, setSecurityHeaders } from "./http.js";
import { checkAccess, matchPage, matchRoute, routeKey } from "./router.js";
import { actionRoutes } from "./routes/actions.js";
import { analyticsRoutes } from "./routes/analytics.js";
import { approvalRoutes } from "./routes/approvals.js";
import { authRoutes } from "./routes/auth.js";
import { configRoutes } from "./routes/config.js";
import { credentialRoutes } from "./routes/credentials.js";
import { deviceRoutes } from "./routes/devices.js";
import { enrollRoutes } from "./routes/enroll.js";
import { EventStreams, eventRoutes } from "./routes/events.js";
import { publicRoutes } from "./routes/public.js";
import { ruleRoutes } from "./routes/rules.js";
import { stateRoutes } from "./routes/state.js";
import { userRoutes } from "./routes/users.js";

export { DEFAULT_SESSION_TTL_MS, sessionTtlOf } from "./session-ttl.js";

export interface WebServer {
  server: Server;
  auth: AuthService;
  address(): { host: string; port: number } | undefined;
  close(): Promise<void>;
}

/** Every handler, keyed like ROUTES. Throws at startup when a route has none (or a handler has no route). */
export function handlerTable(streams: EventStreams): HandlerTable {
  const table: HandlerTable = {
    ...publicRoutes,
    ...authRoutes,
    ...stateRoutes,
    ...actionRoutes,
    ...eventRoutes(streams),
    ...analyticsRoutes,
    ...approvalRoutes,
    ...credentialRoutes,
    ...deviceRoutes,
    ...enrollRoutes,
    ...ruleRoutes,
    ...configRoutes,
    ...userRoutes,
  };
  const keys = new Set(ROUTES.map(routeKey));
  for (const k of keys) if (!table[k]) throw new Error(`web: route ${k} has no handler`);
  for (const k of Object.keys(table)) if (!keys.has(k)) throw new Error(`web: handler ${k} is not in ROUTES`);
  return table;
}

const defaultDashboardDir = (): string => fileURLToPath(new URL("../../dashboard/", import.meta.url));

/** Starts the web listener on `host:port`. */
export async function startWebServer(deps: WebDeps, listen: { host: string; port: number }): Promise<WebServer> {
  const now = deps.now ?? Date.now;
  const auth = new AuthService(deps.store.users, () => sessionTtlOf(deps), now);
  const streams = new EventStreams(deps);
  const table = handlerTable(streams);
  const dashboardDir = resolvePath(deps.dashboardDir ?? defaultDashboardDir());

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      deps.log.error("web request failed", { path: (req.url ?? "").split("?")[0], error: (e as Error).message });
      if (!res.headersSent) sendError(res, 500, "internal error");
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://gateway.invalid");
    } catch {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("bad request\n");
      return;
    }
    const path = url.pathname;
    setSecurityHeaders(res, path);
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
    const match = matchRoute(method, path);
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true || req.headers["x-forwarded-proto"] === "https";
    const ip = req.socket.remoteAddress ?? "";

    if (match.kind === "route") {
      const { spec } = match.route;
      // The agent-facing paths never look at credentials (no database read per CA fetch).
      const principal = spec.access === "public" && !spec.path.startsWith("/api/") ? undefined : auth.authenticate(req);
      const refusal = checkAccess(spec, req, principal, () => auth.needsSetup());
      if (refusal) {
        sendError(res, refusal.status, refusal.error);
        return;
      }
      const ctx: Ctx = { req, res, path, query: url.searchParams, params: match.params, principal, deps, auth, secure, ip, now };
      try {
        await table[match.route.key]!(ctx);
      } catch (e) {
        if (!(e instanceof HttpError)) throw e;
        if (res.headersSent) {
          res.end();
          return;
        }
        sendError(res, e.status, e.message, e.extra ?? {}, e.headers ?? {});
      }
      return;
    }
    if (match.kind === "method") {
      sendError(res, 405, "method not allowed", {}, { allow: match.allow.join(", ") });
      return;
    }
    if (path.startsWith("/api/") || path === "/api") {
      sendError(res, 404, "no such API route");
      return;
    }
    if (method !== "GET") {
      res.writeHead(405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }).end("method not allowed\n");
      return;
    }
    const page = matchPage(path);
    if (page !== undefined) {
      if (page !== "/login" && page !== "/setup" && !auth.authenticate(req)) {
        res.writeHead(302, { location: "/login", "content-type": "text/plain; charset=utf-8" }).end("login required\n");
        return;
      }
      serveIndex(res, dashboardDir);
      return;
    }
    if (serveStatic(res, dashboardDir, path)) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    server,
    auth,
    address() {
      const a = server.address();
      return a && typeof a === "object" ? { host: a.address, port: a.port } : undefined;
    },
    async close() {
      streams.closeAll();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
    },
  };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Claw Patrol</title></head>
<body><h1>Claw Patrol</h1><p>The dashboard is not built. Run <code>npm run build</code> (it builds <code>dashboard/</code> into <code>dist/dashboard/</code>). The management API under <code>/api/</code> works without it; see docs/api.md.</p></body></html>
`;

function serveIndex(res: ServerResponse, dir: string): void {
  const file = join(dir, "index.html");
  res.setHeader("cache-control", "no-store");
  if (!existsSync(file)) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(NOT_BUILT);
    return;
  }
  sendFile(res, file);
}

/** Serves a file of the built SPA (never index.html directly, never outside `dir`). */
function serveStatic(res: ServerResponse, dir: string, path: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  if (decoded.includes("\0")) return false;
  const file = resolvePath(dir, `.${decoded}`);
  const rel = relative(dir, file);
  if (rel === "" || rel.startsWith("..") || rel.split(sep).some((s) => s.startsWith(".")) || rel === "index.html") return false;
  try {
    if (!statSync(file).isFile()) return false;
  } catch {
    return false;
  }
  // Vite fingerprints everything under assets/: cache for good.
  res.setHeader("cache-control", rel.startsWith(`assets${sep}`) ? "public, max-age=31536000, immutable" : "no-cache");
  sendFile(res, file);
  return true;
}

function sendFile(res: ServerResponse, file: string): void {
  const type = TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
  res.writeHead(200, { "content-type": type, "content-length": statSync(file).size });
  createReadStream(file)
    .on("error", () => res.destroy())
    .pipe(res);
}
