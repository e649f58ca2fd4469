/** The per-request context handlers receive, and the handler table type. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthService, Principal } from "./auth/service.js";
import type { WebDeps } from "./deps.js";
import { asObject, readJsonBody, sendJson } from "./http.js";

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  /** Decoded `:name` path parameters. */
  params: Record<string, string>;
  /** Set for every route whose access is not `public`/`setup`; may be set on public ones too. */
  principal: Principal | undefined;
  deps: WebDeps;
  auth: AuthService;
  /** The request came over TLS (cookies get `Secure`). */
  secure: boolean;
  /** Client address, for throttling. */
  ip: string;
  now(): number;
}

/** A route handler: writes the response itself (usually via {@link json}). */
export type Handler = (ctx: Ctx) => void | Promise<void>;

/** Handlers keyed `"METHOD /path/:param"`, exactly as in ROUTES. */
export type HandlerTable = Record<string, Handler>;

export function json(ctx: Ctx, body: unknown, status = 200, headers: Record<string, string | string[]> = {}): void {
  sendJson(ctx.res, status, body, headers);
}

/** The JSON body as an object (see readJsonBody for the errors). */
export async function bodyOf(ctx: Ctx): Promise<Record<string, unknown>> {
  return asObject(await readJsonBody(ctx.req));
}

/** The principal of a route the router already authenticated. */
export function who(ctx: Ctx): Principal {
  if (!ctx.principal) throw new Error("handler reached without a principal");
  return ctx.principal;
}
