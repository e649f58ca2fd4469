/**
 * Pure parsers for the two proxy handshakes the `proxy` transport speaks:
 * SOCKS5 (RFC 1928) and HTTP `CONNECT` (RFC 9110 §9.3.6).
 *
 * They take the bytes received so far and say "need more", "done (this many
 * bytes consumed, this destination)" or "refuse (with this reply)". Keeping
 * them free of sockets lets the hostile-input and fuzz tests hammer them
 * directly, and keeps ./proxy.ts to the I/O.
 */
import { isIP } from "node:net";
import type { Destination } from "../flow.js";
import { checkHostName, splitHostPort } from "../../types/formats.js";

/** SOCKS5 reply codes (RFC 1928 §6) the proxy sends. */
export const SOCKS5_REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  hostUnreachable: 0x04,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** A complete SOCKS5 reply with an all-zero IPv4 bound address (the gateway binds per flow, later). */
export function socks5Reply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/** Server answer to a greeting: method 0x00 (no authentication) or 0xFF (no acceptable methods). */
export function socks5MethodReply(acceptable: boolean): Buffer {
  return Buffer.from([0x05, acceptable ? 0x00 : 0xff]);
}

/** Outcome of reading a SOCKS5 greeting: wait, serve (if no-auth was offered), or drop. */
export type Socks5GreetingResult =
  | { kind: "need-more" }
  /** `noAuth`: whether the client offered method 0x00, the only one served. */
  | { kind: "ok"; consumed: number; noAuth: boolean }
  | { kind: "bad-version" };

/** Parses `VER NMETHODS METHODS...`. */
export function parseSocks5Greeting(buf: Buffer): Socks5GreetingResult {
  if (buf.length < 1) return { kind: "need-more" };
  if (buf[0] !== 0x05) return { kind: "bad-version" };
  if (buf.length < 2) return { kind: "need-more" };
  const n = buf[1]!;
  if (buf.length < 2 + n) return { kind: "need-more" };
  const methods = buf.subarray(2, 2 + n);
  return { kind: "ok", consumed: 2 + n, noAuth: methods.includes(0x00) };
}

/** Outcome of reading a SOCKS5 request: wait, a destination, or a refusal with its reply code. */
export type Socks5RequestResult =
  | { kind: "need-more" }
  | { kind: "ok"; consumed: number; destination: Destination }
  /** Refuse with this SOCKS5 reply code and close. */
  | { kind: "refuse"; reply: number; reason: string };

/** Parses `VER CMD RSV ATYP DST.ADDR DST.PORT`; CONNECT only, IPv4 / domain / IPv6. */
export function parseSocks5Request(buf: Buffer): Socks5RequestResult {
  if (buf.length < 4) return { kind: "need-more" };
  if (buf[0] !== 0x05) return { kind: "refuse", reply: SOCKS5_REPLY.generalFailure, reason: `bad version ${buf[0]} in request` };
  const cmd = buf[1]!;
  if (cmd !== 0x01) {
    const name = cmd === 0x02 ? "BIND" : cmd === 0x03 ? "UDP ASSOCIATE" : `command ${cmd}`;
    return { kind: "refuse", reply: SOCKS5_REPLY.commandNotSupported, reason: `${name} is not supported (CONNECT only)` };
  }
  const atyp = buf[3]!;
  let host: string;
  let at: number;
  if (atyp === 0x01) {
    if (buf.length < 4 + 4 + 2) return { kind: "need-more" };
    host = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
    at = 8;
  } else if (atyp === 0x04) {
    if (buf.length < 4 + 16 + 2) return { kind: "need-more" };
    host = formatIpv6(buf.subarray(4, 20));
    at = 20;
  } else if (atyp === 0x03) {
    if (buf.length < 5) return { kind: "need-more" };
    const len = buf[4]!;
    if (buf.length < 5 + len + 2) return { kind: "need-more" };
    // Remote DNS: the name is the destination as written; it is resolved
    // (or claimed by an endpoint) downstream, never here.
    host = buf.subarray(5, 5 + len).toString("latin1");
    at = 5 + len;
    const err = destinationHostError(host);
    if (err) return { kind: "refuse", reply: SOCKS5_REPLY.hostUnreachable, reason: err };
  } else {
    return { kind: "refuse", reply: SOCKS5_REPLY.addressTypeNotSupported, reason: `address type ${atyp} is not supported` };
  }
  const port = buf.readUInt16BE(at);
  if (port === 0) return { kind: "refuse", reply: SOCKS5_REPLY.generalFailure, reason: "port 0" };
  return { kind: "ok", consumed: at + 2, destination: { host, port } };
}

/** Canonical (compressed) text of a 16-byte IPv6 address. */
function formatIpv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/**
 * Why a destination host named by a client (SOCKS5 domain, CONNECT
 * authority) is unusable: it must be an IP literal or a DNS name. Anything
 * else (control bytes, spaces, `%`) never reaches routing or DNS.
 */
export function destinationHostError(host: string): string | undefined {
  if (host === "") return "empty host name";
  if (isIP(host) !== 0) return undefined;
  const err = checkHostName(host);
  return err ? `invalid host name: ${err}` : undefined;
}

// ---------------------------------------------------------------------------
// HTTP CONNECT

/** Outcome of reading an HTTP CONNECT head: wait, a destination, or an error response to send. */
export type ConnectResult =
  | { kind: "need-more" }
  | { kind: "ok"; consumed: number; destination: Destination }
  /** Refuse with this status (and a text/plain body), then close. */
  | { kind: "refuse"; status: number; reason: string; body: string; headers?: Record<string, string> };

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/** A complete `Connection: close` error response. */
export function httpErrorResponse(status: number, body: string, headers: Record<string, string> = {}): Buffer {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const text = `${body}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n${extra}\r\n${text}`,
  );
}

/** The reply to a successful CONNECT; the tunnel starts right after it. */
export const CONNECT_ESTABLISHED = Buffer.from("HTTP/1.1 200 Connection Established\r\n\r\n");

const NOT_SUPPORTED =
  "This is a tunnelling proxy: only CONNECT is supported. Use an https:// URL, force a tunnel for http:// " +
  "(curl --proxytunnel), or use the SOCKS5 protocol on the same port.";

/** Where the request head ends (after the blank line), or -1. Bare-LF line ends are tolerated. */
function headEnd(buf: Buffer): number {
  const crlf = buf.indexOf("\r\n\r\n");
  const lf = buf.indexOf("\n\n");
  if (crlf < 0) return lf < 0 ? -1 : lf + 2;
  if (lf < 0 || crlf < lf) return crlf + 4;
  return lf + 2;
}

/**
 * Parses an HTTP/1.x request head expecting `CONNECT host:port HTTP/1.x`.
 * Headers (including any `Proxy-Authorization`) are not used: the listener
 * has no authentication. `maxBytes` caps the head.
 */
export function parseConnect(buf: Buffer, maxBytes: number): ConnectResult {
  const end = headEnd(buf);
  if (end > maxBytes || (end < 0 && buf.length > maxBytes)) {
    return { kind: "refuse", status: 431, reason: "request head too large", body: `Request head larger than ${maxBytes} bytes.` };
  }
  if (end < 0) return { kind: "need-more" };
  const head = buf.subarray(0, end).toString("latin1");
  const line = head.slice(0, head.search(/\r?\n/));
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m) return { kind: "refuse", status: 400, reason: "malformed request line", body: "Malformed request line." };
  const method = m[1]!;
  const target = m[2]!;
  if (method !== "CONNECT") {
    return { kind: "refuse", status: 405, reason: `${method} is not supported`, body: NOT_SUPPORTED, headers: { Allow: "CONNECT" } };
  }
  const bad = (why: string): ConnectResult => ({
    kind: "refuse",
    status: 400,
    reason: `bad CONNECT target: ${why}`,
    body: `CONNECT needs "host:port" (IPv6 in brackets); ${why}.`,
  });
  const split = splitHostPort(target);
  if (!split.ok) return bad(split.error);
  const { host, port, bracketed } = split.value;
  if (port === undefined || !/^\d{1,5}$/.test(port)) return bad("missing or invalid port");
  const n = Number(port);
  if (n < 1 || n > 65535) return bad("port out of range");
  if (bracketed ? isIP(host) !== 6 : host.includes(":")) return bad("IPv6 addresses need brackets");
  const err = destinationHostError(host);
  if (err) return bad(err);
  return { kind: "ok", consumed: end, destination: { host, port: n } };
}
