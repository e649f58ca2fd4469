/**
 * Peeks at the first bytes of a connection to decide how to route it before
 * any byte is consumed: is it TLS, and if so which server name (SNI) and
 * application protocols (ALPN) does the ClientHello ask for.
 *
 * Pure and bounded: it only reads inside the lengths the input declares, it
 * never asks for more than {@link CLIENT_HELLO_PEEK_LIMIT} bytes, and
 * hostile input gets an answer, never an exception.
 */

/** What the first bytes of a connection say. */
export type ClientHelloPeek =
  | {
      kind: "tls";
      /** host_name from server_name, lower-cased; absent when the client sent none. */
      sni?: string;
      /** ALPN protocol names in the client's preference order (empty if none). */
      alpn: string[];
      /**
       * The ClientHello is larger than the peek limit and was parsed only as
       * far as the limit: `sni` / `alpn` hold what was seen, and an absent
       * `sni` may just be beyond the limit. Route such a flow fail-closed.
       */
      truncated?: true;
    }
  | {
      kind: "need-more";
      /** Buffer length worth waiting for before asking again (≤ the peek limit). */
      minBytes?: number;
    }
  | {
      kind: "not-tls";
      /**
       * Why, for logs. Covers both "another protocol" and "starts like a
       * ClientHello but is malformed" (bad lengths, duplicate extensions, a
       * server name with non-printable bytes): a TLS server would reject the
       * latter, so there is no name to route it by.
       */
      reason: string;
    };

/** The most bytes a caller should ever buffer waiting for a ClientHello. */
export const CLIENT_HELLO_PEEK_LIMIT = 16 * 1024;

const RECORD_HEADER = 5;
const CT_HANDSHAKE = 0x16;
const HS_CLIENT_HELLO = 0x01;
const MAX_RECORD = 16384; // TLSPlaintext.length ≤ 2^14
const MIN_HELLO_BODY = 2 + 32 + 1 + 2 + 1; // version, random, sid len, cipher len, compression len
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;

class Malformed extends Error {}
/** Ran off the end of the available bytes (only an error for a complete hello). */
class Short extends Error {}

/**
 * Classifies the start of a connection. Call it again with a longer buffer
 * on `need-more`; any bytes past the ClientHello are ignored.
 */
export function peekClientHello(buf: Buffer): ClientHelloPeek {
  try {
    return peek(buf);
  } catch {
    // Unreachable by design; a parser bug must still not crash the gateway.
    return { kind: "not-tls", reason: "ClientHello parser error" };
  }
}

function notTls(reason: string): ClientHelloPeek {
  return { kind: "not-tls", reason };
}

function needMore(minBytes: number): ClientHelloPeek {
  return { kind: "need-more", minBytes: Math.min(minBytes, CLIENT_HELLO_PEEK_LIMIT) };
}

function peek(input: Buffer): ClientHelloPeek {
  const data = input.length > CLIENT_HELLO_PEEK_LIMIT ? input.subarray(0, CLIENT_HELLO_PEEK_LIMIT) : input;
  const atLimit = data.length >= CLIENT_HELLO_PEEK_LIMIT;

  // Reassemble the handshake message from as many records as it spans.
  const fragments: Buffer[] = [];
  let have = 0;
  let hsLen = -1;
  let off = 0;
  let capped = false;
  for (;;) {
    // Judge whatever part of the record header is present.
    const hdrAvail = Math.min(RECORD_HEADER, data.length - off);
    if (hdrAvail >= 1 && data[off] !== CT_HANDSHAKE) {
      return notTls(off === 0 ? "first byte is not a TLS handshake record" : "non-handshake record inside ClientHello");
    }
    if (hdrAvail >= 2 && data[off + 1] !== 0x03) return notTls("TLS record version major is not 3");
    if (hdrAvail >= 3 && (data[off + 2] ?? 0) > 0x04) return notTls("TLS record version minor out of range");
    if (hdrAvail >= 5) {
      const len = data.readUInt16BE(off + 3);
      if (len === 0 || len > MAX_RECORD) return notTls("TLS record length out of range");
    }
    if (hdrAvail < RECORD_HEADER) {
      if (atLimit) {
        capped = true;
        break;
      }
      return needMore(off + RECORD_HEADER);
    }
    const len = data.readUInt16BE(off + 3);
    const start = off + RECORD_HEADER;
    const avail = Math.min(len, data.length - start);
    fragments.push(data.subarray(start, start + avail));
    const before = have;
    have += avail;
    if (before === 0 && have >= 1 && data[start] !== HS_CLIENT_HELLO) {
      return notTls("first handshake message is not a ClientHello");
    }
    if (hsLen < 0 && have >= 4) {
      const head = Buffer.concat(fragments).subarray(0, 4);
      hsLen = head.readUIntBE(1, 3);
      if (hsLen < MIN_HELLO_BODY) return notTls("ClientHello too short");
    }
    if (hsLen >= 0 && have >= 4 + hsLen) break;
    if (avail < len) {
      if (atLimit) {
        capped = true;
        break;
      }
      return needMore(start + len);
    }
    off = start + len;
  }

  const hs = Buffer.concat(fragments);
  const body = capped ? hs.subarray(4, hsLen >= 0 ? Math.min(hs.length, 4 + hsLen) : hs.length) : hs.subarray(4, 4 + hsLen);
  return parseHelloBody(body, !capped);
}

/** A bounds-checked cursor. */
class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}
  get remaining(): number {
    return this.b.length - this.pos;
  }
  u8(): number {
    if (this.remaining < 1) throw new Short();
    return this.b[this.pos++] ?? 0;
  }
  u16(): number {
    if (this.remaining < 2) throw new Short();
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.remaining < n) throw new Short();
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

/**
 * Parses a ClientHello body. `complete`: the whole message is here, so any
 * shortfall is malformation; otherwise (past the peek limit) parsing stops
 * at the first cut-off field and reports what it saw.
 */
function parseHelloBody(body: Buffer, complete: boolean): ClientHelloPeek {
  const out: { sni?: string; alpn: string[] } = { alpn: [] };
  const done = (): ClientHelloPeek =>
    complete ? { kind: "tls", ...out } : { kind: "tls", ...out, truncated: true };
  const r = new Reader(body);
  try {
    if (r.u8() !== 0x03) throw new Malformed("ClientHello version major is not 3");
    r.u8();
    r.bytes(32); // random
    const sid = r.u8();
    if (sid > 32) throw new Malformed("session id longer than 32 bytes");
    r.bytes(sid);
    const cs = r.u16();
    if (cs < 2 || cs % 2 !== 0) throw new Malformed("bad cipher suites length");
    r.bytes(cs);
    const comp = r.u8();
    if (comp < 1) throw new Malformed("no compression methods");
    r.bytes(comp);
    if (r.remaining === 0 && complete) return done(); // no extensions at all
    const extLen = r.u16();
    if (complete && extLen !== r.remaining) throw new Malformed("extensions length does not match ClientHello");
    const ext = new Reader(r.bytes(Math.min(extLen, r.remaining)));
    const seen = new Set<number>();
    while (ext.remaining > 0) {
      const type = ext.u16();
      const len = ext.u16();
      if (seen.has(type)) throw new Malformed("duplicate extension");
      seen.add(type);
      const data = ext.bytes(len);
      if (type === EXT_SERVER_NAME) {
        const sni = parseServerName(data);
        if (sni !== undefined) out.sni = sni;
      } else if (type === EXT_ALPN) {
        out.alpn = parseAlpn(data);
      }
    }
    return done();
  } catch (e) {
    if (e instanceof Malformed) return notTls(e.message);
    if (e instanceof Short) return complete ? notTls("ClientHello field runs past its length") : done();
    throw e;
  }
}

/** Parses a whole extension body: running short inside it is malformation. */
function whole<T>(what: string, data: Buffer, parse: (r: Reader) => T): T {
  try {
    return parse(new Reader(data));
  } catch (e) {
    if (e instanceof Short) throw new Malformed(`${what} runs past its extension`);
    throw e;
  }
}

/** server_name (RFC 6066 §3): one host_name, printable ASCII. */
function parseServerName(data: Buffer): string | undefined {
  return whole("server_name", data, readServerName);
}

function readServerName(r: Reader): string | undefined {
  const listLen = r.u16();
  if (listLen !== r.remaining || listLen === 0) throw new Malformed("bad server_name list length");
  let host: string | undefined;
  while (r.remaining > 0) {
    const nameType = r.u8();
    const len = r.u16();
    const name = r.bytes(len);
    if (nameType !== 0) continue; // no other name types are defined; skip
    if (host !== undefined) throw new Malformed("more than one host_name in server_name");
    if (len === 0) throw new Malformed("empty host_name");
    for (const c of name) if (c < 0x21 || c > 0x7e) throw new Malformed("host_name has non-printable bytes");
    host = name.toString("latin1").toLowerCase();
  }
  return host;
}

/** application_layer_protocol_negotiation (RFC 7301 §3.1). */
function parseAlpn(data: Buffer): string[] {
  return whole("ALPN", data, readAlpn);
}

function readAlpn(r: Reader): string[] {
  const listLen = r.u16();
  if (listLen !== r.remaining || listLen < 2) throw new Malformed("bad ALPN list length");
  const protos: string[] = [];
  while (r.remaining > 0) {
    const len = r.u8();
    if (len === 0) throw new Malformed("empty ALPN protocol name");
    protos.push(r.bytes(len).toString("latin1"));
  }
  return protos;
}
