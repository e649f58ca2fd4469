/**
 * Redaction of injected secrets wherever bytes are recorded or returned to
 * the agent: response headers and streamed bodies (an upstream may echo
 * the credential — httpbin-style reflectors, verbose error pages), audit
 * samples, log lines, error messages (ARCHITECTURE §6.1).
 *
 * What is recognised, per secret S (its UTF-8 bytes), is exactly the set
 * {@link secretEncodings} returns:
 * - S itself;
 * - S percent-encoded three ways — every byte outside RFC 3986 unreserved
 *   (`A-Za-z0-9-._~`); `encodeURIComponent` (also keeps `!'()*`); the
 *   form encoding (`URLSearchParams`: keeps `*-._`, space as `+`) — each
 *   with upper- and lower-case hex;
 * - S as a JSON string body (`JSON.stringify(S)` without the quotes);
 * - base64 of S, standard and URL-safe alphabets, padded and unpadded;
 * - S inside a larger base64 blob (e.g. an echoed `Basic` header or a
 *   base64 JSON document): for each of the three byte alignments, the run
 *   of base64 characters that depends on S alone, when that run is at
 *   least {@link MIN_EMBEDDED_BASE64} characters.
 * Encodings equal to S are not repeated. Anything else — hex, reversed or
 * split copies, compressed bodies (`Content-Encoding: gzip`) — is not
 * recognised; the HTTP runtime must redact decoded bytes, and policy is
 * what keeps an agent from reflectors.
 *
 * Every occurrence of every pattern is found, overlapping ones included;
 * overlapping or touching occurrences are merged and each merged run of
 * bytes becomes one {@link REDACTED} marker. All other bytes pass through
 * unchanged. The streaming form gives byte-for-byte the same output as the
 * one-shot form for any chunking, holding back at most
 * `maxPatternLength - 1` bytes between chunks.
 *
 * Secrets shorter than {@link MIN_SECRET_LENGTH} bytes are not redacted
 * (a 3-byte pattern would shred ordinary text); the secret resolver
 * refuses to inject such values in the first place.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { HeaderField } from "../types/credentials/http.js";

/** Shortest secret that is redacted (and that the resolver will inject). */
export const MIN_SECRET_LENGTH = 4;

/** Shortest base64 run recognised for a secret embedded in a larger blob. */
export const MIN_EMBEDDED_BASE64 = 8;

/** What replaces each redacted run. Matches how audit stores sensitive headers. */
export const REDACTED = "***";

function percentEncode(bytes: Buffer, keep: RegExp, space: string, lower: boolean): string {
  let out = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (b < 0x80 && keep.test(c)) out += c;
    else if (c === " " && space !== "") out += space;
    else {
      const hex = b.toString(16).padStart(2, "0");
      out += "%" + (lower ? hex : hex.toUpperCase());
    }
  }
  return out;
}

/** The base64 characters that depend only on `bytes`, when preceded by `align` unknown bytes. */
function embeddedBase64(bytes: Buffer, align: number): string {
  const enc = Buffer.concat([Buffer.alloc(align), bytes]).toString("base64");
  const first = Math.ceil((8 * align) / 6);
  const end = Math.floor((8 * (align + bytes.length)) / 6);
  return enc.slice(first, end);
}

/**
 * Every byte pattern redacted for one secret (see the module comment),
 * deduplicated, the raw secret first. Empty for secrets shorter than
 * {@link MIN_SECRET_LENGTH} bytes.
 */
export function secretEncodings(secret: string): Buffer[] {
  const raw = Buffer.from(secret, "utf8");
  if (raw.length < MIN_SECRET_LENGTH) return [];
  const forms: string[] = [];
  for (const lower of [false, true]) {
    forms.push(percentEncode(raw, /[A-Za-z0-9\-._~]/, "", lower));
    forms.push(percentEncode(raw, /[A-Za-z0-9\-_.!~*'()]/, "", lower));
    forms.push(percentEncode(raw, /[A-Za-z0-9*\-._]/, "+", lower));
  }
  forms.push(JSON.stringify(secret).slice(1, -1));
  const b64 = raw.toString("base64");
  const b64Forms = [b64, b64.replace(/=+$/, "")];
  for (let align = 0; align < 3; align++) {
    const run = embeddedBase64(raw, align);
    if (run.length >= MIN_EMBEDDED_BASE64) b64Forms.push(run);
  }
  for (const f of b64Forms) forms.push(f, f.replace(/\+/g, "-").replace(/\//g, "_"));
  const out: Buffer[] = [raw];
  const seen = new Set<string>([raw.toString("latin1")]);
  for (const f of forms) {
    const b = Buffer.from(f, "utf8");
    const key = b.toString("latin1");
    if (b.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(b);
  }
  return out;
}

/** Options for {@link Redactor}. */
export interface RedactOptions {
  /** Replacement for each redacted run (default {@link REDACTED}). */
  marker?: string;
}

/**
 * One pass over `buf`: decides bytes `[0, decideEnd)`, considering only
 * matches that start there (each of which ends inside `buf`). `lastEnd` is
 * where the previous redacted run ended relative to `buf` (null: no run
 * touches `buf`). Returns the output pieces and the run end relative to
 * `buf[decideEnd]`.
 */
function scan(
  buf: Buffer,
  decideEnd: number,
  lastEndIn: number | null,
  patterns: readonly Buffer[],
  marker: Buffer,
): { out: Buffer[]; lastEnd: number | null } {
  const matches: Array<[number, number]> = [];
  for (const p of patterns) {
    for (let i = buf.indexOf(p); i !== -1 && i < decideEnd; i = buf.indexOf(p, i + 1)) matches.push([i, i + p.length]);
  }
  matches.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
  const out: Buffer[] = [];
  let lastEnd = lastEndIn ?? -1;
  let cursor = Math.max(lastEnd, 0);
  for (const [s, e] of matches) {
    if (s <= lastEnd) {
      if (e > lastEnd) cursor = lastEnd = e;
      continue;
    }
    if (s > cursor) out.push(buf.subarray(cursor, s));
    out.push(marker);
    cursor = lastEnd = e;
  }
  if (cursor < decideEnd) out.push(buf.subarray(cursor, decideEnd));
  return { out, lastEnd: lastEnd >= decideEnd ? lastEnd - decideEnd : null };
}

/**
 * The compiled redaction for one set of secrets (typically: the values
 * injected into one request). Build it once per request and use it for
 * the response headers, the body stream and the audit record.
 */
export class Redactor {
  /** Every byte pattern searched for. */
  readonly patterns: readonly Buffer[];
  /** Length of the longest pattern: the stream holds back one byte less. */
  readonly maxPatternLength: number;
  /** How many secrets were too short to redact. */
  readonly skipped: number;
  private readonly marker: Buffer;

  constructor(secrets: Iterable<string>, opts: RedactOptions = {}) {
    const seen = new Set<string>();
    const patterns: Buffer[] = [];
    let skipped = 0;
    for (const s of new Set(secrets)) {
      const enc = secretEncodings(s);
      if (enc.length === 0) skipped++;
      for (const p of enc) {
        const key = p.toString("latin1");
        if (!seen.has(key)) {
          seen.add(key);
          patterns.push(p);
        }
      }
    }
    this.patterns = patterns;
    this.maxPatternLength = patterns.reduce((m, p) => Math.max(m, p.length), 0);
    this.skipped = skipped;
    this.marker = Buffer.from(opts.marker ?? REDACTED, "utf8");
  }

  /** Nothing to redact: callers may skip the work (and the stream). */
  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Redacts a complete byte sequence. */
  redactBytes(input: Uint8Array): Buffer {
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (this.empty) return Buffer.from(buf);
    return Buffer.concat(scan(buf, buf.length, null, this.patterns, this.marker).out);
  }

  /** Redacts a string (as its UTF-8 bytes; patterns never split a character). */
  redactText(s: string): string {
    if (this.empty) return s;
    return this.redactBytes(Buffer.from(s, "utf8")).toString("utf8");
  }

  /** Redacts header names and values, keeping order. */
  redactHeaders(headers: readonly HeaderField[]): HeaderField[] {
    return headers.map(([n, v]) => [this.redactText(n), this.redactText(v)]);
  }

  /** A fresh streaming redactor over this set. */
  stream(): RedactStream {
    return new RedactStream(this.patterns, this.maxPatternLength, this.marker);
  }
}

/**
 * A byte-stream Transform applying a {@link Redactor}. Output equals the
 * one-shot redaction of the concatenated input whatever the chunking; at
 * most `maxPatternLength - 1` bytes are held between chunks, released on
 * end. Without patterns it passes chunks straight through.
 */
export class RedactStream extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private lastEnd: number | null = null;

  constructor(
    private readonly patterns: readonly Buffer[],
    private readonly maxLen: number,
    private readonly marker: Buffer,
  ) {
    super();
  }

  /** Bytes currently held back (for tests and metrics). */
  get buffered(): number {
    return this.pending.length;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.patterns.length === 0) {
      cb(null, chunk);
      return;
    }
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.process(buf, buf.length - (this.maxLen - 1));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.pending.length > 0) this.process(this.pending, this.pending.length);
    cb();
  }

  private process(buf: Buffer, decideEnd: number): void {
    if (decideEnd <= 0) {
      this.pending = buf;
      return;
    }
    const r = scan(buf, decideEnd, this.lastEnd, this.patterns, this.marker);
    this.lastEnd = r.lastEnd;
    // Copy the tail so a large chunk is not kept alive by a small view.
    this.pending = Buffer.from(buf.subarray(decideEnd));
    if (r.out.length > 0) this.push(r.out.length === 1 ? r.out[0]! : Buffer.concat(r.out));
  }
}

/** One-shot text redaction for a set of secrets. Prefer a reused {@link Redactor} on hot paths. */
export function redactText(s: string, secrets: Iterable<string>, opts?: RedactOptions): string {
  return new Redactor(secrets, opts).redactText(s);
}

/** One-shot header redaction for a set of secrets. */
export function redactHeaders(headers: readonly HeaderField[], secrets: Iterable<string>, opts?: RedactOptions): HeaderField[] {
  return new Redactor(secrets, opts).redactHeaders(headers);
}

/** A streaming redactor for a set of secrets. */
export function createRedactStream(secrets: Iterable<string>, opts?: RedactOptions): RedactStream {
  return new Redactor(secrets, opts).stream();
}
