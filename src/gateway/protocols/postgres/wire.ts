/**
 * Postgres wire protocol v3 framing: the byte layout of the messages the
 * gateway reads and writes on both hops (facts from the protocol chapter of
 * the PostgreSQL manual, "Message Formats").
 *
 * Every regular message is `type:u8 length:i32 body`, where the length
 * counts itself but not the type byte. The startup-phase packets
 * (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have no type
 * byte. The gateway frames both directions itself rather than relaying
 * bytes, so a hostile or truncated frame is caught here, before anything is
 * parsed or forwarded, and an oversized one is refused before it is
 * buffered.
 */

/** Protocol codes sent in place of a version in untyped startup packets. */
export const PROTOCOL_V3 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Postgres itself refuses startup packets longer than this. */
export const MAX_STARTUP_PACKET = 10_000;

/** One framed message: its type byte (as a character) and body (without the header). */
export interface Frame {
  type: string;
  body: Buffer;
  /** The whole message, header included (what gets forwarded). */
  raw: Buffer;
}

/** Thrown for bytes that are not a valid frame; the session answers with a protocol-violation error and closes. */
export class ProtocolError extends Error {}

/**
 * Accumulates stream chunks and yields whole frames. `maxFrame` bounds the
 * body a single frame may declare: a larger declaration is a
 * {@link ProtocolError} raised as soon as the header arrives, so a
 * hostile length never makes the gateway buffer it.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #size = 0;
  readonly #maxFrame: number;

  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /** Bytes buffered and not yet returned as frames. */
  get buffered(): number {
    return this.#size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  /** The next complete frame, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    if (this.#size < 5) return undefined;
    const head = this.#peek(5);
    const len = head.readInt32BE(1);
    if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
    if (len - 4 > this.#maxFrame) throw new ProtocolError(`message of ${len - 4} bytes exceeds the ${this.#maxFrame}-byte limit`);
    if (this.#size < len + 1) return undefined;
    const all = this.#take(len + 1);
    return { type: String.fromCharCode(all[0]!), body: all.subarray(5), raw: all };
  }

  /**
   * The next untyped startup packet (`length:i32 body`), or undefined until
   * it is complete. Startup packets are small; anything over
   * {@link MAX_STARTUP_PACKET} is refused.
   */
  nextStartup(): Buffer | undefined {
    if (this.#size < 4) return undefined;
    const len = this.#peek(4).readInt32BE(0);
    if (len < 8 || len > MAX_STARTUP_PACKET) throw new ProtocolError(`invalid startup packet length ${len}`);
    if (this.#size < len) return undefined;
    return this.#take(len).subarray(4);
  }

  /** Everything still buffered (handed on when the stream changes hands, e.g. to TLS). */
  drain(): Buffer {
    return this.#take(this.#size);
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    // Coalesce just the leading chunks that hold the first n bytes, so a header split over
    // chunks is joined once — not the whole buffer again on every chunk of a large frame.
    let k = 0;
    let got = 0;
    while (got < n) got += this.#chunks[k++]!.length;
    const head = Buffer.concat(this.#chunks.slice(0, k), got);
    this.#chunks.splice(0, k, head);
    return head;
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.#size -= n;
    return out;
  }
}

/** Reads the fields of a message body in order; every overrun is a {@link ProtocolError}. */
export class BodyReader {
  #pos = 0;
  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.#pos;
  }

  int32(): number {
    this.#need(4);
    const v = this.buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  int16(): number {
    this.#need(2);
    const v = this.buf.readInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  byte(): number {
    this.#need(1);
    return this.buf[this.#pos++]!;
  }

  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolError("negative length");
    this.#need(n);
    const v = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.#pos);
    if (end < 0) throw new ProtocolError("unterminated string");
    const v = this.buf.toString("utf8", this.#pos, end);
    this.#pos = end + 1;
    return v;
  }

  #need(n: number): void {
    if (this.#pos + n > this.buf.length) throw new ProtocolError("message shorter than its fields");
  }
}

/** Builds one typed message (`type` undefined: an untyped startup packet). */
export function message(type: string | undefined, ...parts: (Buffer | string | number)[]): Buffer {
  const bufs = parts.map((p) => (typeof p === "number" ? int32(p) : typeof p === "string" ? cstr(p) : p));
  const bodyLen = bufs.reduce((n, b) => n + b.length, 0);
  const head = Buffer.alloc(type === undefined ? 4 : 5);
  if (type === undefined) head.writeInt32BE(bodyLen + 4, 0);
  else {
    head[0] = type.charCodeAt(0);
    head.writeInt32BE(bodyLen + 4, 1);
  }
  return Buffer.concat([head, ...bufs]);
}

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0, 0);
  return b;
}

export function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
}

/** A NUL-terminated UTF-8 string. */
export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}

// ---------------------------------------------------------------------------
// Startup packets

/** What the first packet of a connection asks for. */
export type StartupPacket =
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; pid: number; secret: number }
  | { kind: "startup"; major: number; minor: number; params: Map<string, string> };

export function parseStartup(body: Buffer): StartupPacket {
  const r = new BodyReader(body);
  const code = r.int32();
  if (code === SSL_REQUEST_CODE) return { kind: "ssl" };
  if (code === GSSENC_REQUEST_CODE) return { kind: "gssenc" };
  if (code === CANCEL_REQUEST_CODE) {
    const pid = r.int32();
    const secret = r.int32();
    return { kind: "cancel", pid, secret };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  const params = new Map<string, string>();
  if (major === 3) {
    for (;;) {
      const key = r.cstring();
      if (key === "") break;
      params.set(key, r.cstring());
    }
  }
  return { kind: "startup", major, minor, params };
}

export function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const parts: (string | number)[] = [PROTOCOL_V3];
  for (const [k, v] of params) parts.push(k, v);
  return message(undefined, ...parts, Buffer.from([0]));
}

export function sslRequest(): Buffer {
  return message(undefined, SSL_REQUEST_CODE);
}

export function cancelRequest(pid: number, secret: number): Buffer {
  return message(undefined, CANCEL_REQUEST_CODE, pid, secret);
}

// ---------------------------------------------------------------------------
// Backend messages the gateway synthesizes

/** Fields of an ErrorResponse / NoticeResponse, by field code. */
export interface ErrorFields {
  severity: "ERROR" | "FATAL" | "NOTICE" | "WARNING";
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fieldsBody(f: ErrorFields): Buffer[] {
  const parts: Buffer[] = [Buffer.from("S"), cstr(f.severity), Buffer.from("V"), cstr(f.severity), Buffer.from("C"), cstr(f.code), Buffer.from("M"), cstr(f.message)];
  if (f.detail) parts.push(Buffer.from("D"), cstr(f.detail));
  if (f.hint) parts.push(Buffer.from("H"), cstr(f.hint));
  parts.push(Buffer.from([0]));
  return parts;
}

export function errorResponse(f: ErrorFields): Buffer {
  return message("E", ...fieldsBody(f));
}

export function noticeResponse(f: ErrorFields): Buffer {
  return message("N", ...fieldsBody(f));
}

/** Reads an ErrorResponse / NoticeResponse body into a code → value map. */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const r = new BodyReader(body);
  const out = new Map<string, string>();
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    out.set(String.fromCharCode(code), r.cstring());
  }
  return out;
}

/** Transaction status of a ReadyForQuery: idle, in a transaction block, in a failed one. */
export type TxStatus = "I" | "T" | "E";

export function readyForQuery(status: TxStatus): Buffer {
  return message("Z", Buffer.from(status));
}

export function authenticationOk(): Buffer {
  return message("R", 0);
}

export function authenticationCleartext(): Buffer {
  return message("R", 3);
}

export function backendKeyData(pid: number, secret: number): Buffer {
  return message("K", pid, secret);
}

// ---------------------------------------------------------------------------
// Frontend messages the gateway reads

/** Parse: statement name, query text (parameter types are not needed for gating). */
export function parseParse(body: Buffer): { name: string; query: string } {
  const r = new BodyReader(body);
  const name = r.cstring();
  const query = r.cstring();
  return { name, query };
}

/** Bind: which portal is bound to which prepared statement. */
export function parseBind(body: Buffer): { portal: string; statement: string } {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  return { portal, statement };
}

/** Execute: the portal to run. */
export function parseExecute(body: Buffer): { portal: string } {
  return { portal: new BodyReader(body).cstring() };
}

/** Describe / Close: `S` (statement) or `P` (portal) and its name. */
export function parseTarget(body: Buffer): { kind: "S" | "P"; name: string } {
  const r = new BodyReader(body);
  const k = String.fromCharCode(r.byte());
  if (k !== "S" && k !== "P") throw new ProtocolError(`invalid Describe/Close target ${JSON.stringify(k)}`);
  return { kind: k, name: r.cstring() };
}

/** Query: the SQL text. A query without its terminating NUL is refused. */
export function parseQuery(body: Buffer): string {
  return new BodyReader(body).cstring();
}

/** Rows affected, from a CommandComplete tag (`SELECT 5`, `INSERT 0 1`, `UPDATE 3`); null when the tag has none. */
export function rowsOfTag(tag: string): number | null {
  const m = /\s(\d+)$/.exec(tag);
  return m ? Number(m[1]) : null;
}
