/**
 * Fetch wrapper for the management API (src/web/api.ts is the contract):
 * same-origin, JSON in and out, the CSRF header on every non-GET, and a
 * redirect to /login when the session is gone.
 */
import { CSRF_HEADER } from "../../src/web/api.ts";
import type { SessionInfo } from "../../src/web/api.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The parsed error body (may carry `diagnostics`, `revision`, ...). */
    readonly body: Record<string, unknown> | null,
  ) {
    super(message);
  }
}

let csrfToken = "";

/** Remembers the session's CSRF token (from login, setup or GET /api/session). */
export function setCsrf(session: Pick<SessionInfo, "csrfToken"> | null): void {
  csrfToken = session?.csrfToken ?? "";
}

const AUTH_PAGES = ["/login", "/setup"];

function toLogin(): void {
  const here = location.pathname + location.search;
  if (AUTH_PAGES.includes(location.pathname)) return;
  location.assign(`/login?next=${encodeURIComponent(here)}`);
}

export interface RequestOptions {
  /** A 401 is returned as an ApiError instead of redirecting (login form). */
  noRedirect?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers[CSRF_HEADER] = csrfToken;
  const init: RequestInit = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (opts.signal) init.signal = opts.signal;
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.noRedirect) toLogin();
    const obj = parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : null;
    const msg = typeof obj?.error === "string" ? obj.error : text.slice(0, 200) || res.statusText || `HTTP ${res.status}`;
    throw new ApiError(res.status, msg, obj);
  }
  return (parsed ?? (text as unknown)) as T;
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>("GET", path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>("POST", path, body ?? {}, opts),
  put: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>("PUT", path, body ?? {}, opts),
  del: <T>(path: string, opts?: RequestOptions) => request<T>("DELETE", path, undefined, opts),
};

/** `?a=1&b=x` from an object, skipping empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

/** A short human message for a caught error. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.status === 403 ? `Not allowed: ${e.message}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
