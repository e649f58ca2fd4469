/**
 * The HTTP injection hook credential types implement, and the request view
 * it works on.
 *
 * A credential type that authenticates HTTP requests sets `http` on its
 * spec (see {@link HttpInjector}); the HTTP runtime calls it through
 * {@link applyHttpInjection} after the policy allowed the request and
 * before it goes upstream. The runtime never knows what a type writes
 * where — adding a type is one module (ARCHITECTURE §3).
 *
 * Contract every hook keeps (docs/credentials.md):
 * - The real secret OVERWRITES the type's auth slot whatever the agent put
 *   there; the agent's placeholder only selected the credential.
 * - The secret goes nowhere but the auth slot(s) the type owns.
 * - The result lists every secret-bearing value written, so the runtime
 *   can redact upstream echoes and keep the values out of logs and audit.
 */
import { createHash } from "node:crypto";
import type { DecodedBlock } from "../schema.js";

/** One header line, name as the agent spelled it. Order is kept. */
export type HeaderField = [name: string, value: string];

/**
 * The slots of one credential's secret, resolved lazily: a hook reads only
 * the slots it needs (a Slack request needs one of several tokens), and
 * every read sees the current value (rotation needs no reload).
 */
export interface SecretSlots {
  /**
   * The value of `slot`, or of the credential's primary slot when omitted.
   * `undefined` when no source holds it. May throw when a configured source
   * is broken (an unreadable `@file`); {@link applyHttpInjection} turns that
   * into an injection error.
   */
  get(slot?: string): string | undefined;
}

/** A secret slot a credential type reads (docs, dashboard paste boxes). */
export interface SlotSpec {
  /** Slot name: the secret store key and the `_<SLOT>` environment suffix. */
  name: string;
  /** The primary slot: `CLAWPATROL_SECRET_<NAME>` without a suffix. */
  primary?: boolean;
  /** Injection fails ("missing") without it. */
  required?: boolean;
  doc: string;
}

/** What a hook may use besides the request. */
export interface HttpInjectContext {
  /** The credential's secret, by slot. */
  secret: SecretSlots;
  /** The credential block's decoded fields (header name, username, ...). */
  block: DecodedBlock;
  /** The placeholder that selected this credential, when a profile dispatched by one. */
  placeholder?: string;
}

/** The outcome of an injection. */
export type InjectResult =
  | {
      ok: true;
      /** Every secret-bearing value written into the request: the redaction set. */
      injected: string[];
    }
  | {
      ok: false;
      /** Why nothing was injected (e.g. `secret slot "secret" missing`). Never contains a secret. */
      error: string;
    };

/** The `http` hook of a credential type. */
export interface HttpInjector {
  /** The slots this hook reads. */
  slots: readonly SlotSpec[];
  /**
   * Writes the secret into `req`. Must not throw for bad input and must
   * not write anything when it returns an error (the wrapper restores the
   * request anyway, but hooks should not rely on it).
   */
  inject(req: OutboundHttpRequest, ctx: HttpInjectContext): InjectResult;
}

/** The slot name single-secret types use. */
export const PRIMARY_SLOT = "secret";

/** The one-slot table most types declare. */
export function primarySlot(doc: string): SlotSpec[] {
  return [{ name: PRIMARY_SLOT, primary: true, required: true, doc }];
}

/** What {@link OutboundHttpRequest} is built from. */
export interface OutboundHttpRequestInit {
  method: string;
  /** The request-target exactly as sent: origin-form `/p?q`, absolute-form `http://h/p?q`, or `*`. */
  target: string;
  headers: HeaderField[];
  /** The buffered body, if the runtime buffered one. */
  body?: Uint8Array;
  /** The body is only a prefix of the real one (it exceeded `limits.body_buffer`). */
  bodyTruncated?: boolean;
}

/**
 * A small mutable view of a request about to go upstream. It keeps the
 * agent's bytes wherever a hook does not touch them (header order and
 * spelling, untouched query parameters byte-exact), so injection changes
 * only the auth slot and signatures over the rest survive.
 */
export class OutboundHttpRequest {
  /** As the agent sent it (case kept). */
  method: string;
  /** `scheme://authority` of an absolute-form target, else "". */
  origin: string;
  /** The path as sent (percent-encoding preserved). */
  path: string;
  /** The raw query without `?`; `undefined` when the target had no `?`. */
  query: string | undefined;
  /** In wire order; use the helpers for case-insensitive access. */
  headers: HeaderField[];
  /** The body as buffered; replace it with {@link replaceBody} only. */
  body: Uint8Array | undefined;
  /** {@link body} is only a prefix: hooks must not derive anything from it as if complete. */
  readonly bodyTruncated: boolean;
  /** A hook replaced the body: the runtime must send {@link body} instead of the agent's. */
  bodyChanged = false;

  constructor(init: OutboundHttpRequestInit) {
    this.method = init.method;
    let rest = init.target;
    const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
    this.origin = abs ? abs[0] : "";
    rest = rest.slice(this.origin.length);
    if (this.origin !== "" && !rest.startsWith("/") && !rest.startsWith("?")) rest = "/" + rest;
    const q = rest.indexOf("?");
    this.path = q < 0 ? rest : rest.slice(0, q);
    this.query = q < 0 ? undefined : rest.slice(q + 1);
    this.headers = init.headers.map(([n, v]) => [n, v]);
    this.body = init.body;
    this.bodyTruncated = init.bodyTruncated ?? false;
  }

  /** The request-target to send. */
  get target(): string {
    return this.origin + this.path + (this.query === undefined ? "" : "?" + this.query);
  }

  /** The first value of a header (case-insensitive name). */
  header(name: string): string | undefined {
    const n = name.toLowerCase();
    return this.headers.find(([k]) => k.toLowerCase() === n)?.[1];
  }

  /** Every value of a header, in order. */
  headerValues(name: string): string[] {
    const n = name.toLowerCase();
    return this.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  }

  /**
   * Sets a header to exactly one value: the first occurrence is replaced in
   * place (keeping the agent's order), later ones are dropped, and an
   * absent header is appended.
   */
  setHeader(name: string, value: string): void {
    const n = name.toLowerCase();
    const i = this.headers.findIndex(([k]) => k.toLowerCase() === n);
    if (i < 0) {
      this.headers.push([name, value]);
      return;
    }
    this.headers[i] = [this.headers[i]![0], value];
    this.headers = this.headers.filter(([k], j) => j <= i || k.toLowerCase() !== n);
  }

  /** Removes every occurrence of a header; returns how many were removed. */
  removeHeader(name: string): number {
    const n = name.toLowerCase();
    const before = this.headers.length;
    this.headers = this.headers.filter(([k]) => k.toLowerCase() !== n);
    return before - this.headers.length;
  }

  /** The first value of a query parameter, form-decoded (`+` is a space). */
  queryParam(name: string): string | undefined {
    for (const part of querySegments(this.query)) {
      const [k, v] = splitPair(part);
      if (formDecode(k) === name) return v === undefined ? "" : formDecode(v);
    }
    return undefined;
  }

  /**
   * Replaces the value of every parameter named `name` with `encodedValue`
   * (already percent-encoded). Other parameters keep their exact bytes.
   * Returns how many were replaced; an absent parameter is not added.
   */
  replaceQueryParam(name: string, encodedValue: string): number {
    let n = 0;
    const parts = querySegments(this.query).map((part) => {
      const [k] = splitPair(part);
      if (formDecode(k) !== name) return part;
      n++;
      return `${k}=${encodedValue}`;
    });
    if (n > 0) this.query = parts.join("&");
    return n;
  }

  /** Removes every parameter named `name`; drops the `?` when nothing is left. */
  removeQueryParam(name: string): number {
    const parts = querySegments(this.query);
    const kept = parts.filter((part) => formDecode(splitPair(part)[0]) !== name);
    if (kept.length === parts.length) return 0;
    this.query = kept.length === 0 ? undefined : kept.join("&");
    return parts.length - kept.length;
  }

  /**
   * Replaces the body. Refused (returns false) for a truncated body — the
   * hook saw only a prefix and cannot rewrite what it did not see. Keeps a
   * `Content-Length` header in step.
   */
  replaceBody(bytes: Uint8Array): boolean {
    if (this.bodyTruncated) return false;
    this.body = bytes;
    this.bodyChanged = true;
    if (this.header("content-length") !== undefined) this.setHeader("content-length", String(bytes.length));
    return true;
  }

  /** A copy of the mutable state, for {@link restore}. */
  snapshot(): RequestSnapshot {
    return {
      method: this.method,
      origin: this.origin,
      path: this.path,
      query: this.query,
      headers: this.headers.map(([n, v]) => [n, v]),
      body: this.body,
      bodyChanged: this.bodyChanged,
    };
  }

  /** Puts the request back as it was at {@link snapshot}. */
  restore(s: RequestSnapshot): void {
    this.method = s.method;
    this.origin = s.origin;
    this.path = s.path;
    this.query = s.query;
    this.headers = s.headers.map(([n, v]) => [n, v]);
    this.body = s.body;
    this.bodyChanged = s.bodyChanged;
  }
}

/** The state {@link OutboundHttpRequest.snapshot} captures. */
export interface RequestSnapshot {
  method: string;
  origin: string;
  path: string;
  query: string | undefined;
  headers: HeaderField[];
  body: Uint8Array | undefined;
  bodyChanged: boolean;
}

function querySegments(query: string | undefined): string[] {
  return query === undefined || query === "" ? [] : query.split("&");
}

function splitPair(part: string): [string, string | undefined] {
  const eq = part.indexOf("=");
  return eq < 0 ? [part, undefined] : [part.slice(0, eq), part.slice(eq + 1)];
}

/** `application/x-www-form-urlencoded` decoding; malformed escapes stay as written. */
export function formDecode(s: string): string {
  const plus = s.replace(/\+/g, " ");
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/**
 * Percent-encodes every byte outside RFC 3986's unreserved set
 * (`A-Z a-z 0-9 - . _ ~`), upper-case hex. One of the encodings the
 * redactor recognises, so a secret written this way is also redacted.
 */
export function percentEncodeStrict(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * Whether a value may be written into a header field: no CR, LF, NUL or
 * other control bytes (HTAB aside), nothing beyond Latin-1. A secret
 * failing this would split the header block (header injection) or be
 * mangled on the wire, so hooks refuse it.
 */
export function isHeaderSafe(value: string): boolean {
  return !/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(value);
}

/** Resolved slot values, or the error result to return. */
export type SlotRead = { ok: true; values: Record<string, string> } | { ok: false; error: string };

/**
 * Reads the named slots (`undefined` name: the primary) and checks each is
 * present and, when `header` is set, header-safe. Hooks call it before
 * writing anything, so a failure leaves the request untouched.
 */
export function readSlots(secret: SecretSlots, names: readonly string[], opts: { header?: boolean } = {}): SlotRead {
  const values: Record<string, string> = {};
  for (const name of names) {
    const v = name === PRIMARY_SLOT ? secret.get() : secret.get(name);
    if (v === undefined || v === "") return { ok: false, error: `secret slot ${JSON.stringify(name)} missing` };
    if (opts.header && !isHeaderSafe(v)) {
      return { ok: false, error: `secret slot ${JSON.stringify(name)} contains characters a header cannot carry (CR, LF, NUL, other controls, non-Latin-1)` };
    }
    values[name] = v;
  }
  return { ok: true, values };
}

/** The single-slot read most hooks start with. */
export function readPrimary(secret: SecretSlots, header = true): { ok: true; value: string } | { ok: false; error: string } {
  const r = readSlots(secret, [PRIMARY_SLOT], { header });
  return r.ok ? { ok: true, value: r.values[PRIMARY_SLOT]! } : r;
}

/** `Authorization: Bearer <token>`, replacing whatever the agent sent. */
export function setBearer(req: OutboundHttpRequest, token: string): void {
  req.setHeader("Authorization", "Bearer " + token);
}

/** An injector that writes the primary secret as a bearer token (github_oauth, notion_oauth, ...). */
export function bearerInjector(doc: string, extra?: (req: OutboundHttpRequest) => void): HttpInjector {
  return {
    slots: primarySlot(doc),
    inject(req, ctx) {
      const s = readPrimary(ctx.secret);
      if (!s.ok) return s;
      setBearer(req, s.value);
      extra?.(req);
      return { ok: true, injected: [s.value] };
    },
  };
}

/**
 * Runs a type's hook with the guarantees the runtime relies on: a failing
 * or throwing hook leaves the request exactly as the agent sent it; error
 * messages are scrubbed of every secret value the hook read; and every
 * value read is added to the redaction set, so a hook that forgets to list
 * one cannot open a leak.
 */
export function applyHttpInjection(injector: HttpInjector, req: OutboundHttpRequest, ctx: HttpInjectContext): InjectResult {
  const read = new Set<string>();
  const recording: SecretSlots = {
    get(slot?: string) {
      const v = slot === undefined ? ctx.secret.get() : ctx.secret.get(slot);
      if (v !== undefined && v !== "") read.add(v);
      return v;
    },
  };
  const before = req.snapshot();
  let result: InjectResult;
  try {
    result = injector.inject(req, { ...ctx, secret: recording });
  } catch (err) {
    result = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  if (!result.ok) {
    req.restore(before);
    return { ok: false, error: scrub(result.error, read) };
  }
  return { ok: true, injected: [...new Set([...result.injected, ...read])].filter((v) => v !== "") };
}

/** Removes secret values from a message (longest first, so a value containing another goes whole). */
function scrub(message: string, secrets: Set<string>): string {
  let out = message;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s.length > 0) out = out.split(s).join("***");
  return out;
}

/**
 * A stable, request-derived idempotency key: the same logical write
 * (credential, method, host, target, body) always gets the same key, so an
 * agent's blind retry is collapsed by the upstream, while distinct writes
 * differ. Only hashes leave the gateway; the secret is never an input.
 */
export function deriveIdempotencyKey(credential: string, req: OutboundHttpRequest): string {
  const bodyHash = createHash("sha256")
    .update(req.body ?? new Uint8Array())
    .digest("hex");
  const h = createHash("sha256");
  for (const part of [credential, req.method.toUpperCase(), (req.header("host") ?? "").toLowerCase(), req.target, bodyHash]) {
    h.update(part).update("\n");
  }
  return "cp1-" + h.digest("hex").slice(0, 32);
}
