/**
 * Value formats shared by the plugin specs and the gateway block schemas:
 * Go-style durations, byte sizes, host entries, listen addresses, CIDRs,
 * URLs and time-zone names.
 *
 * The reference reads these with Go's standard library (time.ParseDuration,
 * net.SplitHostPort, ...), and users bring configs written for it, so the
 * parsers accept the same spellings and word their errors the same way
 * where a diagnostic quotes them.
 */
import { isIP } from "node:net";

/** A parse result: the value, or why the text is not one. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration string ("30s", "5m", "1h30m", "1.5h", "-2s", "0")
 * into milliseconds. Go's spelling is what the reference accepts for
 * `ready_timeout`, `keepalive`, `dashboard_session_ttl`, ...
 */
export function parseDuration(text: string): Parsed<number> {
  const invalid = (): Parsed<number> => ({ ok: false, error: `time: invalid duration ${goQuote(text)}` });
  let s = text;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return { ok: true, value: 0 };
  if (s === "") return invalid();
  let total = 0;
  while (s !== "") {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? "";
    const frac = num?.[2];
    if (whole === "" && (frac === undefined || frac === "")) return invalid();
    s = s.slice(num![0].length);
    const unit = /^[^\d.]+/.exec(s)?.[0];
    if (unit === undefined) return { ok: false, error: `time: missing unit in duration ${goQuote(text)}` };
    const scale = DURATION_UNITS_MS[unit];
    if (scale === undefined) {
      return { ok: false, error: `time: unknown unit ${goQuote(unit)} in duration ${goQuote(text)}` };
    }
    s = s.slice(unit.length);
    total += Number(`${whole === "" ? "0" : whole}.${frac ?? ""}0`) * scale;
  }
  return { ok: true, value: sign * total };
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a byte size ("256KiB", "1MiB", "4096", "2G") into bytes. Units are
 * binary and case-insensitive; a bare integer is bytes; the result must be
 * positive. Same grammar as the reference's `limits {}` sizes.
 */
export function parseSize(text: string): Parsed<number> {
  const s = text.trim();
  if (s === "") return { ok: false, error: "empty size string" };
  const m = /^([+-]?)(\d*)(.*)$/.exec(s)!;
  const digits = m[2] ?? "";
  if (digits === "") return { ok: false, error: `size ${goQuote(text)} has no numeric value` };
  const unit = (m[3] ?? "").trim();
  const mult = SIZE_UNITS[unit.toLowerCase()];
  if (mult === undefined) {
    return { ok: false, error: `size ${goQuote(text)}: unknown unit ${goQuote(unit)} (use B, KiB, MiB, or GiB)` };
  }
  const bytes = (m[1] === "-" ? -1 : 1) * Number(digits) * mult;
  if (!(bytes > 0)) return { ok: false, error: `size ${goQuote(text)} must be positive` };
  if (!Number.isSafeInteger(bytes)) return { ok: false, error: `size ${goQuote(text)} is too large` };
  return { ok: true, value: bytes };
}

/** A `host[:port]` entry split apart. IPv6 hosts come back without brackets. */
export interface HostPort {
  host: string;
  /** The port text as written, when there is one. */
  port?: string;
  /** Whether the host was written in brackets (`[::1]`). */
  bracketed: boolean;
}

/**
 * Splits `host`, `host:port`, `[v6]`, `[v6]:port`. A bare IPv6 address
 * (several colons, no brackets) is all host. Returns an error string for
 * unbalanced brackets.
 */
export function splitHostPort(s: string): Parsed<HostPort> {
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return { ok: false, error: "missing ']' in address" };
    const host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest === "") return { ok: true, value: { host, bracketed: true } };
    if (!rest.startsWith(":")) return { ok: false, error: "unexpected text after ']'" };
    return { ok: true, value: { host, port: rest.slice(1), bracketed: true } };
  }
  const first = s.indexOf(":");
  if (first < 0) return { ok: true, value: { host: s, bracketed: false } };
  if (s.indexOf(":", first + 1) >= 0) return { ok: true, value: { host: s, bracketed: false } };
  return { ok: true, value: { host: s.slice(0, first), port: s.slice(first + 1), bracketed: false } };
}

/** Checks a port written as text: decimal, 1–65535. */
export function checkPort(port: string): string | undefined {
  if (!/^\d+$/.test(port)) return `invalid port ${goQuote(port)}`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `port ${port} out of range 1-65535`;
  return undefined;
}

/** Whether n is a usable TCP/UDP port number. */
export function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

const DNS_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Checks a DNS host name (no port, no wildcard). */
export function checkHostName(host: string): string | undefined {
  if (host === "") return "empty host";
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length > 253) return "host name longer than 253 characters";
  for (const label of name.split(".")) {
    if (label === "") return "empty label in host name";
    if (label.includes("*")) return "'*' is only allowed as a whole leading label (\"*.example.com\")";
    if (!DNS_LABEL.test(label)) return `invalid host name label ${goQuote(label)}`;
  }
  return undefined;
}

/**
 * Checks one endpoint host entry: a DNS name, IPv4 or bracketed IPv6
 * address, optionally `*.`-prefixed (when `wildcard`), optionally with
 * `:port`. Returns why it is malformed, or undefined.
 */
export function checkHostEntry(entry: string, opts: { wildcard: boolean }): string | undefined {
  if (entry === "") return "empty host";
  if (/\s/.test(entry)) return "whitespace in host";
  if (entry.includes("://")) return "write a host name, not a URL";
  if (entry.includes("/")) return "unexpected '/' in host";
  const split = splitHostPort(entry);
  if (!split.ok) return split.error;
  const { host, port, bracketed } = split.value;
  if (port !== undefined) {
    const perr = checkPort(port);
    if (perr) return perr;
  }
  if (bracketed) return isIP(host) === 6 ? undefined : `invalid IPv6 address ${goQuote(host)}`;
  if (isIP(host) === 6) return undefined;
  if (isIP(host) === 4) return undefined;
  if (/^[\d.]+$/.test(host)) return `invalid IPv4 address ${goQuote(host)}`;
  if (host.startsWith("*.")) {
    if (!opts.wildcard) return "wildcards are not allowed here";
    return checkHostName(host.slice(2));
  }
  return checkHostName(host);
}

/**
 * Reduces a URL-shaped host value (`https://k8s.example.com:6443/`) to the
 * `host[:port]` it names; other values come back trimmed but unchanged. The
 * scheme's default port is dropped (it is the endpoint's default port too).
 */
export function reduceUrlToHost(value: string): string {
  const v = value.trim();
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v)) return v;
  try {
    return new URL(v).host;
  } catch {
    return v;
  }
}

/**
 * Checks a listen / dial address `host:port` (`127.0.0.1:8080`, `:8080`,
 * `[::1]:51820`, `gw.example.com:51820`). The port is required; an empty
 * host means every interface.
 */
export function checkListenAddress(addr: string): string | undefined {
  if (addr.trim() !== addr || addr === "") return `invalid address ${goQuote(addr)}`;
  const split = splitHostPort(addr);
  if (!split.ok) return split.error;
  const { host, port, bracketed } = split.value;
  if (port === undefined) return `missing port in address ${goQuote(addr)}`;
  const perr = checkPort(port);
  if (perr) return perr;
  if (host === "") return undefined;
  if (bracketed) return isIP(host) === 6 ? undefined : `invalid IPv6 address ${goQuote(host)}`;
  if (isIP(host) !== 0) return undefined;
  if (host.includes(":")) return `IPv6 addresses need brackets: ${goQuote(addr)}`;
  return checkHostName(host);
}

/** Parsed IPv4 CIDR. */
export interface Ipv4Cidr {
  address: string;
  prefix: number;
}

/** Parses an IPv4 CIDR (`10.55.0.0/24`). */
export function parseIpv4Cidr(text: string): Parsed<Ipv4Cidr> {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  if (!m || isIP(m[1]!) !== 4) return { ok: false, error: `${goQuote(text)} is not an IPv4 CIDR like "10.55.0.0/24"` };
  const prefix = Number(m[2]);
  if (prefix > 32) return { ok: false, error: `prefix length /${prefix} is out of range 0-32` };
  return { ok: true, value: { address: m[1]!, prefix } };
}

/** Checks an absolute http(s) URL with a host and no query or fragment. */
export function checkHttpUrl(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return `${goQuote(text)} is not an absolute URL`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    return `scheme must be http or https, got ${goQuote(u.protocol.replace(/:$/, ""))}`;
  }
  if (u.hostname === "") return "host is empty";
  if (u.search !== "" || u.hash !== "") return "query strings and fragments are not allowed";
  return undefined;
}

/** Whether `tz` is an IANA time-zone name this runtime knows (via Intl). */
export function isTimeZone(tz: string): boolean {
  if (tz.trim() === "" || tz.trim() !== tz) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Go's %q for the plain strings configs contain: double quotes, escaped. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
