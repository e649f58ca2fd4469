/**
 * Small HTTP helpers for the management API: JSON bodies with a size limit,
 * JSON replies, the security headers every response carries, and
 * {@link HttpError} — thrown by handlers, turned into `{ error }` by the server.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Largest JSON body accepted (config texts are the big ones). */
export const MAX_JSON_BODY = 2 * 1024 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra JSON fields next to `error` (diagnostics, current revision, ...). */
    readonly extra?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * The CSP: scripts and styles from the gateway itself only (no inline
 * script, no eval); inline style attributes are allowed because React and
 * chart libraries set them. Framing is refused outright.
 */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function setSecurityHeaders(res: ServerResponse, path: string): void {
  res.setHeader("content-security-policy", CSP);
  res.setHeader("x-frame-options", "DENY");
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("referrer-policy", "no-referrer");
  if (path.startsWith("/api/") || path === "/api") res.setHeader("cache-control", "no-store");
}

/** JSON that tolerates BigInt (CEL ints in facets) instead of throwing. */
export function toJson(v: unknown, space?: number): string {
  try {
    return JSON.stringify(v, null, space);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x), space);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = toJson(body);
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  sendJson(res, status, { ...extra, error: message }, headers);
}

/**
 * Reads a JSON request body: undefined when there is none; 415 unless it is
 * `application/json` (a cross-site form cannot send that without a CORS
 * preflight); 413 past {@link MAX_JSON_BODY}; 400 when it does not parse.
 */
export async function readJsonBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? "0");
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (!chunked && (!Number.isFinite(declared) || declared === 0)) return undefined;
  if (declared > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "request body must be application/json");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, `invalid JSON body: ${(e as Error).message}`);
  }
}

/** The body as an object (400 otherwise); `{}` when there was no body. */
export function asObject(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "request body must be a JSON object");
  return body as Record<string, unknown>;
}

export function requireString(o: Record<string, unknown>, key: string, opts: { max?: number; optional?: false } = {}): string {
  const v = o[key];
  if (typeof v !== "string") throw new HttpError(400, `"${key}" must be a string`);
  if (opts.max !== undefined && v.length > opts.max) throw new HttpError(400, `"${key}" is longer than ${opts.max} characters`);
  return v;
}

export function optionalString(o: Record<string, unknown>, key: string, max = 10_000): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new HttpError(400, `"${key}" must be a string`);
  if (v.length > max) throw new HttpError(400, `"${key}" is longer than ${max} characters`);
  return v;
}

/** A query parameter as a finite integer, or undefined when absent; 400 when malformed. */
export function intParam(q: URLSearchParams, key: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const raw = q.get(key);
  if (raw === null || raw === "") return undefined;
  if (!/^-?\d{1,16}$/.test(raw)) throw new HttpError(400, `query parameter "${key}" must be an integer`);
  const n = Number(raw);
  if (opts.min !== undefined && n < opts.min) throw new HttpError(400, `query parameter "${key}" must be ≥ ${opts.min}`);
  if (opts.max !== undefined && n > opts.max) throw new HttpError(400, `query parameter "${key}" must be ≤ ${opts.max}`);
  return n;
}
