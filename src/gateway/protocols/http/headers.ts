/**
 * Header policy of the interceptor: what goes upstream, what comes back to
 * the agent, what counts as auth-bearing (for credential dispatch) and what
 * the audit log may only see as `***`.
 *
 * Headers are handled as `[name, value]` pairs in wire order (Node's
 * `rawHeaders`), so multi-valued headers and the agent's spelling survive.
 */
import type { HeaderField, SecretRedaction } from "./ports.js";
import { MASK, containsSecret, redactString } from "./scrub.js";

export type HeaderPairs = HeaderField[];

/** Pairs up Node's flat `rawHeaders` (`[name, value, name, value, ...]`). */
export function pairsOf(flat: readonly string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** The first value of a header (case-insensitive name). */
export function headerValue(pairs: readonly (readonly [string, string])[], name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of pairs) if (k.toLowerCase() === n) return v;
  return undefined;
}

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the legacy ones proxies still see. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

/** Names listed in `Connection` (they are hop-by-hop too). */
function connectionTokens(pairs: readonly (readonly [string, string])[]): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of pairs) {
    if (k.toLowerCase() !== "connection") continue;
    for (const t of v.split(",")) {
      const s = t.trim().toLowerCase();
      if (s) out.add(s);
    }
  }
  return out;
}

/**
 * Headers to send upstream, in the agent's order and spelling. Dropped:
 * hop-by-hop headers and those `Connection` names, every `Proxy-*` header
 * (the agent's credentials toward a proxy must not travel on), and
 * `Expect` (the gateway already answered `100-continue`). For an upgrade
 * request `Upgrade` is kept and `Connection: Upgrade` set. `Content-Length`
 * is kept (the body is forwarded byte for byte); a chunked body gets
 * `Transfer-Encoding: chunked` back from the caller.
 */
export function outboundHeaders(pairs: readonly (readonly [string, string])[], opts: { upgrade: boolean }): HeaderPairs {
  const named = connectionTokens(pairs);
  const out: HeaderPairs = [];
  for (const [k, v] of pairs) {
    const n = k.toLowerCase();
    const keepUpgrade = n === "upgrade" && opts.upgrade;
    if (!keepUpgrade && (HOP_BY_HOP.has(n) || named.has(n) || n.startsWith("proxy-") || n === "expect")) continue;
    out.push([k, v]);
  }
  if (opts.upgrade) out.push(["Connection", "Upgrade"]);
  return out;
}

/** Sets a header to one value (first occurrence replaced in place, later ones dropped, else appended). */
export function setHeader(pairs: HeaderPairs, name: string, value: string): HeaderPairs {
  const n = name.toLowerCase();
  const i = pairs.findIndex(([k]) => k.toLowerCase() === n);
  if (i < 0) return [...pairs, [name, value]];
  return pairs.flatMap((p, j): HeaderPairs => (j === i ? [[p[0], value]] : p[0].toLowerCase() === n ? [] : [p]));
}

/** Flattens pairs into the `[name, value, ...]` list Node's `request` / `writeHead` accept. */
export function flatHeaders(pairs: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  for (const [k, v] of pairs) out.push(k, v);
  return out;
}

/**
 * Response headers that never reach the agent: cookies and auth challenges
 * (the session belongs to the gateway's credential, not to the agent),
 * `Alt-Svc` (it would steer the client to QUIC, around the gateway), key
 * pinning (it would pin the agent to the upstream's real keys).
 */
const RESPONSE_DROP = new Set(["set-cookie", "set-cookie2", "www-authenticate", "proxy-authenticate", "alt-svc"]);

export interface SanitizeOptions {
  /** A `101 Switching Protocols`: keep `Upgrade` and `Connection`. */
  upgrade?: boolean;
  /** The body will be rewritten (redaction, decoding): drop `Content-Length` and `Content-Encoding`. */
  rewritesBody?: boolean;
  /** The injected secrets to redact from header values. */
  redaction: SecretRedaction;
}

/**
 * Upstream response headers as the agent may see them, as a flat
 * `[name, value, ...]` list for `writeHead`: the drop list above, hop-by-hop
 * headers, and injected secrets redacted from every value (a header whose
 * name contains a secret is dropped).
 */
export function sanitizeResponseHeaders(pairs: readonly (readonly [string, string])[], opts: SanitizeOptions): string[] {
  const named = connectionTokens(pairs);
  const out: string[] = [];
  for (const [k, v] of pairs) {
    const n = k.toLowerCase();
    if (RESPONSE_DROP.has(n) || n.startsWith("public-key-pins") || n.startsWith("proxy-")) continue;
    if (opts.upgrade && (n === "upgrade" || n === "connection")) {
      out.push(k, v);
      continue;
    }
    if (HOP_BY_HOP.has(n) || named.has(n)) continue;
    if (opts.rewritesBody && (n === "content-length" || n === "content-encoding")) continue;
    if (containsSecret(k, opts.redaction)) continue;
    out.push(k, redactString(v, opts.redaction));
  }
  return out;
}

/** Header names that carry credentials by convention. */
const AUTH_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"]);
/** Names that look credential-bearing (`X-Goog-Api-Key`, `Private-Token`, `X-Auth-Token`, ...). */
const AUTHISH = /(auth|token|api-?key|secret|session|cookie|passw|credential)/i;

/** Whether a header is auth-bearing: its value may hold a placeholder (dispatch) or a credential (audit masking). */
export function isAuthHeader(name: string): boolean {
  const n = name.toLowerCase();
  return AUTH_HEADERS.has(n) || AUTHISH.test(n);
}

/**
 * Where the agent may have put a credential placeholder: the values of the
 * auth-bearing headers, and the raw query (`?key=PH_...`). The credential
 * resolver matches profile placeholders against these.
 */
export function dispatchTexts(pairs: readonly (readonly [string, string])[], rawQuery: string): string[] {
  const out: string[] = [];
  for (const [k, v] of pairs) if (isAuthHeader(k)) out.push(v);
  if (rawQuery !== "") out.push(rawQuery);
  return out;
}

/** Multi-valued headers as the audit stores them (`SampledHeaders`). */
export type SampledHeaders = Record<string, string | string[]>;

/**
 * Headers for the audit log: auth-bearing headers and every header the
 * injector wrote become `***`, secrets are redacted from the rest. Keys are
 * lower case.
 */
export function auditHeaders(pairs: readonly (readonly [string, string])[], masked: ReadonlySet<string>, r: SecretRedaction): SampledHeaders {
  const out: SampledHeaders = {};
  for (const [k, v] of pairs) {
    const n = redactString(k.toLowerCase(), r);
    const value = isAuthHeader(n) || masked.has(n) ? MASK : redactString(v, r);
    const prev = out[n];
    if (prev === undefined) out[n] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[n] = [prev, value];
  }
  return out;
}

/** Lower-case names of headers whose values differ between two header lists (what an injector wrote or replaced). */
export function changedHeaders(before: readonly (readonly [string, string])[], after: readonly (readonly [string, string])[]): Set<string> {
  const group = (pairs: readonly (readonly [string, string])[]) => {
    const m = new Map<string, string[]>();
    for (const [k, v] of pairs) {
      const n = k.toLowerCase();
      m.set(n, [...(m.get(n) ?? []), v]);
    }
    return m;
  };
  const a = group(before);
  const b = group(after);
  const out = new Set<string>();
  for (const n of new Set([...a.keys(), ...b.keys()])) {
    if (JSON.stringify(a.get(n)) !== JSON.stringify(b.get(n))) out.add(n);
  }
  return out;
}

/** Plain-text bodies the gateway itself writes (deny, errors). */
export function textResponseHead(status: number, reason: string, body: string, close: boolean): string {
  const len = Buffer.byteLength(body);
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${len}\r\n` +
    (close ? "Connection: close\r\n" : "") +
    `\r\n`
  );
}
