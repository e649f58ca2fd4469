/**
 * Bearer material: session cookies, CSRF tokens, API tokens. Each is 32
 * random bytes (base64url); only its SHA-256 is stored, so a leaked database
 * replays no session or token. Comparisons of client-supplied secrets with
 * stored ones go through {@link safeEqual}.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Prefix of API tokens (`Authorization: Bearer cpt_...`), so they are recognizable in a leak scan. */
export const API_TOKEN_PREFIX = "cpt_";

export const newSecretToken = (): string => randomBytes(32).toString("base64url");
export const newApiToken = (): string => API_TOKEN_PREFIX + randomBytes(32).toString("base64url");
export const newTokenId = (): string => randomBytes(9).toString("base64url");
export const sha256Hex = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

/** Constant-time string equality (length is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Cookie header → name/value pairs (first wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (name === "" || out.has(name)) continue;
    let value = part.slice(i + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

/** A `Set-Cookie` value for the session cookie. `maxAgeMs` 0 clears it. */
export function sessionCookie(name: string, value: string, maxAgeMs: number, secure: boolean): string {
  const parts = [`${name}=${value}`, "Path=/", "HttpOnly", "SameSite=Strict", `Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`];
  if (secure) parts.push("Secure");
  return parts.join("; ");
}
