/**
 * `http.*` facets: what an intercepted HTTPS request looks like to a rule.
 *
 * The builder is pure and total: any method / request-target / header set /
 * body produces facets, never an exception, because hostile bytes must end in
 * a decision (usually a fail-closed one), not a crashed connection. Fields the
 * gateway could not see completely are listed as {@link UnknownFacet}s so the
 * CEL layer can treat them as unknowns.
 *
 * Maps (`query`, `headers`) are built on null-prototype objects: a request is
 * free to send a `__proto__` or `constructor` parameter, and it must land as an
 * ordinary key instead of rewiring the object.
 */
import type { HttpFacets, UnknownFacet } from "../action.js";

/** Facets plus the fields among them whose values are unavailable. */
export interface FacetResult<F> {
  facets: F;
  unknown: UnknownFacet[];
}

/**
 * Headers as the runtimes have them: `[name, value]` pairs in wire order
 * (see {@link rawHeaderPairs} for Node's flat `rawHeaders`), or a record whose
 * values are one string or several (Node's `IncomingMessage.headers`, a
 * fixture's `map<string, list<string>>`). Names may be in any case.
 */
export type HeaderInput =
  | ReadonlyArray<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** One request as a protocol runtime sees it on the wire. */
export interface RawHttpRequest {
  method: string;
  /** The request-target: `/path?query` (absolute-form `https://h/p?q` is accepted too). */
  target: string;
  headers?: HeaderInput;
  /** Body bytes (decoded as UTF-8) or an already-decoded string. */
  body?: Uint8Array | string;
  /** True when `body` is only a prefix: the rest overflowed the inspection buffer. */
  truncated?: boolean;
}

/**
 * A request already split into facet-shaped parts — what a `clawpatrol test`
 * fixture carries. Query values here are taken as given (already decoded).
 */
export interface HttpParts {
  method: string;
  path: string;
  query?: Readonly<Record<string, readonly string[]>>;
  headers?: HeaderInput;
  body?: Uint8Array | string;
  truncated?: boolean;
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const utf8enc = new TextEncoder();

/** A fresh null-prototype record, safe for attacker-chosen keys. */
export function emptyRecord<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function pushValue<V>(rec: Record<string, V[]>, key: string, value: V): void {
  const list = Object.hasOwn(rec, key) ? rec[key] : undefined;
  if (list) list.push(value);
  else rec[key] = [value];
}

// RFC 7230 token characters, the only ones Go canonicalises.
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = TOKEN[c + 0x20] = 1;

/**
 * Go's canonical MIME header key (`content-type` → `Content-Type`), so rules
 * written against the reference's `http.Header` keys match. Like Go, a name
 * containing anything that is not a token character (a space, a non-ASCII
 * letter, ...) is returned unchanged.
 */
export function canonicalHeaderKey(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return name;
  }
  let out = "";
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    const ch = name.charAt(i);
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === "-";
  }
  return out;
}

/** Pairs up Node's flat `rawHeaders` (`[name, value, name, value, ...]`). */
export function rawHeaderPairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/**
 * Multi-valued headers keyed by canonical name. Values keep wire order;
 * names that canonicalise alike (`x-a`, `X-A`) merge into one key.
 */
export function canonicalHeaders(input: HeaderInput | undefined): Record<string, string[]> {
  const out = emptyRecord<string[]>();
  if (!input) return out;
  if (Array.isArray(input)) {
    for (const [name, value] of input as ReadonlyArray<readonly [string, string]>) {
      pushValue(out, canonicalHeaderKey(name), value);
    }
    return out;
  }
  const rec = input as Readonly<Record<string, string | readonly string[] | undefined>>;
  for (const name of Object.keys(rec)) {
    const v = rec[name];
    if (v === undefined) continue;
    const key = canonicalHeaderKey(name);
    if (typeof v === "string") pushValue(out, key, v);
    else for (const one of v) pushValue(out, key, one);
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Percent-decodes `s` into UTF-8 text (invalid sequences become U+FFFD).
 * `plusIsSpace` is the query-string convention. With `strict`, a `%` not
 * followed by two hex digits makes the whole input undecodable (`undefined`),
 * as Go's URL parser does for paths; otherwise such a `%` is kept literally.
 */
export function percentDecode(s: string, plusIsSpace: boolean, strict: boolean): string | undefined {
  if (!s.includes("%") && !(plusIsSpace && s.includes("+"))) return s;
  const bytes: number[] = [];
  let run = "";
  const flush = (): void => {
    if (run === "") return;
    for (const b of utf8enc.encode(run)) bytes.push(b);
    run = "";
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    if (ch === "%") {
      if (i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        flush();
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
        continue;
      }
      if (strict) return undefined;
      run += ch;
    } else if (ch === "+" && plusIsSpace) {
      run += " ";
    } else {
      run += ch;
    }
  }
  flush();
  return utf8.decode(Uint8Array.from(bytes));
}

/**
 * Parses a raw query string the way Go's `url.ParseQuery` does: `&`-separated
 * pairs, split at the first `=`, keys and values percent-decoded with `+` as
 * space, every value kept in order (`a=1&a=2` → `{a: ["1", "2"]}`), empty
 * segments skipped, a bare `k` is `k = ""`.
 *
 * Two deliberate differences, both so a parameter can't hide from rules: a
 * malformed `%` escape is kept literally (Go drops the pair, a lenient
 * upstream would still act on it), and a segment containing `;` is kept as
 * one pair (Go drops it; `;` is not a separator for modern servers either).
 */
export function parseQuery(raw: string): Record<string, string[]> {
  const out = emptyRecord<string[]>();
  if (raw === "") return out;
  for (const seg of raw.split("&")) {
    if (seg === "") continue;
    const eq = seg.indexOf("=");
    const k = percentDecode(eq < 0 ? seg : seg.slice(0, eq), true, false) ?? "";
    const v = eq < 0 ? "" : (percentDecode(seg.slice(eq + 1), true, false) ?? "");
    pushValue(out, k, v);
  }
  return out;
}

/**
 * Splits a request-target into the path as on the wire and the raw query.
 * Absolute-form targets (`https://host/p?q`, what a forward proxy receives)
 * lose their scheme and authority; an empty path there becomes `/`. Anything
 * else (origin-form, `*`, authority-form) keeps its text verbatim.
 */
export function splitTarget(target: string): { path: string; rawQuery: string } {
  let t = target;
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(t);
  if (abs) {
    const rest = t.slice(abs[0].length);
    const cut = rest.search(/[/?]/);
    t = cut < 0 ? "/" : rest.slice(cut);
    if (t.startsWith("?")) t = "/" + t;
  }
  const q = t.indexOf("?");
  if (q < 0) return { path: t, rawQuery: "" };
  return { path: t.slice(0, q), rawQuery: t.slice(q + 1) };
}

/**
 * Whether a Content-Type names JSON: `application/json` or any
 * `application/<x>+json`, parameters (`; charset=utf-8`) and case ignored.
 */
export function isJsonContentType(value: string): boolean {
  const semi = value.indexOf(";");
  const mt = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (mt === "application/json") return true;
  return /^application\/[^/\s;]+\+json$/.test(mt);
}

/**
 * Builds `http.*` facets from already-split parts (fixtures use this
 * directly; {@link buildHttpFacets} feeds it from the wire).
 *
 * `body_json` is the parsed body when a `Content-Type` says JSON and the body
 * parses, and `{}` otherwise — an empty object rather than null so
 * `has(http.body_json.x)` is a clean `false` on form posts and bodiless
 * requests instead of an evaluation error. A JSON content type with an empty
 * (or whitespace-only) body is also `{}`: many clients send the header on
 * every request. A non-empty body that fails to parse under a JSON content
 * type leaves `body_json` = `{}` but marks it unknown (`unparseable`), so a
 * rule depending on it fails closed; a truncated body marks both `http.body`
 * and `http.body_json` unknown (`truncated`). JSON numbers stay JavaScript
 * numbers (CEL doubles).
 */
export function httpFacetsFromParts(p: HttpParts): FacetResult<HttpFacets> {
  const headers = canonicalHeaders(p.headers);
  const query = emptyRecord<string[]>();
  if (p.query) {
    for (const k of Object.keys(p.query)) for (const v of p.query[k] ?? []) pushValue(query, k, v);
  }
  const body = p.body === undefined ? "" : typeof p.body === "string" ? p.body : utf8.decode(p.body);
  const unknown: UnknownFacet[] = [];
  let bodyJson: unknown = {};
  if (p.truncated) {
    unknown.push({ field: "http.body", cause: "truncated" }, { field: "http.body_json", cause: "truncated" });
  } else {
    const ct = Object.hasOwn(headers, "Content-Type") ? (headers["Content-Type"] ?? []) : [];
    if (ct.some(isJsonContentType) && body.trim() !== "") {
      try {
        bodyJson = JSON.parse(body) as unknown;
      } catch {
        unknown.push({ field: "http.body_json", cause: "unparseable" });
      }
    }
  }
  const facets: HttpFacets = {
    method: p.method.toLowerCase(),
    path: p.path,
    query,
    headers,
    body,
    body_json: bodyJson,
  };
  return { facets, unknown };
}

/**
 * Builds `http.*` facets from a request as it arrived: method lower-cased,
 * path without its query and without any decoding, query parsed
 * multi-valued ({@link parseQuery}), header names canonicalised
 * ({@link canonicalHeaderKey}), body decoded as UTF-8. See
 * {@link httpFacetsFromParts} for `body_json` and the unknowns.
 */
export function buildHttpFacets(req: RawHttpRequest): FacetResult<HttpFacets> {
  const { path, rawQuery } = splitTarget(req.target);
  const parts: HttpParts = { method: req.method, path, query: parseQuery(rawQuery) };
  if (req.headers !== undefined) parts.headers = req.headers;
  if (req.body !== undefined) parts.body = req.body;
  if (req.truncated) parts.truncated = true;
  return httpFacetsFromParts(parts);
}
