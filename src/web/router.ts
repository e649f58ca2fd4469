/**
 * The table router: ROUTES (api.ts) compiled to matchers, and the one place
 * access is decided. Handlers never check auth themselves; a route's
 * `access` in the contract is what is enforced, so the route-table test
 * proves the whole API by walking ROUTES.
 */
import type { IncomingMessage } from "node:http";
import { CSRF_HEADER, PAGES, ROLE_RANK, ROUTES, type Method, type RouteSpec } from "./api.js";
import type { Principal } from "./auth/service.js";
import { safeEqual } from "./auth/tokens.js";

export interface CompiledRoute {
  spec: RouteSpec;
  key: string;
  re: RegExp;
  names: string[];
}

const compile = (pattern: string): { re: RegExp; names: string[] } => {
  const names: string[] = [];
  const src = pattern
    .split("/")
    .map((seg) => {
      if (seg.startsWith(":")) {
        names.push(seg.slice(1));
        return "([^/]+)";
      }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { re: new RegExp(`^${src}$`), names };
};

export const routeKey = (r: { method: string; path: string }): string => `${r.method} ${r.path}`;

export const COMPILED_ROUTES: readonly CompiledRoute[] = ROUTES.map((spec) => ({ spec, key: routeKey(spec), ...compile(spec.path) }));
const PAGE_RES = PAGES.map((p) => ({ path: p, ...compile(p) }));

export type RouteMatch =
  | { kind: "route"; route: CompiledRoute; params: Record<string, string> }
  | { kind: "method"; allow: Method[] }
  | { kind: "none" };

export function matchRoute(method: string, path: string): RouteMatch {
  const allow: Method[] = [];
  for (const r of COMPILED_ROUTES) {
    const m = r.re.exec(path);
    if (!m) continue;
    if (r.spec.method !== method) {
      allow.push(r.spec.method);
      continue;
    }
    const params: Record<string, string> = {};
    try {
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
    } catch {
      return { kind: "none" };
    }
    return { kind: "route", route: r, params };
  }
  return allow.length > 0 ? { kind: "method", allow } : { kind: "none" };
}

/** The PAGES pattern `path` matches, if any. */
export function matchPage(path: string): string | undefined {
  return PAGE_RES.find((p) => p.re.test(path))?.path;
}

export const isStateChanging = (method: string): boolean => method !== "GET" && method !== "HEAD" && method !== "OPTIONS";

/** A refusal: status and message. */
export interface Refusal {
  status: 401 | 403 | 409;
  error: string;
}

/**
 * Whether `principal` may call `route` (undefined: yes). Order: setup state,
 * authentication (401), cross-origin (403), CSRF for cookie sessions (403),
 * role (403).
 */
export function checkAccess(route: RouteSpec, req: IncomingMessage, principal: Principal | undefined, needsSetup: () => boolean): Refusal | undefined {
  const changing = isStateChanging(route.method);
  if (changing && !sameOrigin(req)) return { status: 403, error: "cross-origin request refused" };
  if (route.access === "public") return undefined;
  if (route.access === "setup") return needsSetup() ? undefined : { status: 409, error: "setup is already done; log in" };
  if (!principal) return { status: 401, error: "authentication required" };
  if (changing && principal.via === "session") {
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== "string" || !principal.session || !safeEqual(sent, principal.session.csrfToken)) {
      return { status: 403, error: `missing or wrong ${CSRF_HEADER} header` };
    }
  }
  if (route.access === "login") return undefined;
  if (ROLE_RANK[principal.role] < ROLE_RANK[route.access]) return { status: 403, error: `needs the ${route.access} role` };
  return undefined;
}

/**
 * When the browser says where a request comes from (`Origin`), it must be
 * this gateway's own host. Requests without Origin (curl, scripts) pass:
 * they carry no ambient browser credentials worth forging, and cookie ones
 * still need the CSRF token.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (!host) return false;
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false; // "null" and garbage
  }
}
