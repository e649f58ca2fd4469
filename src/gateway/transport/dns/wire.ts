/**
 * The few DNS wire details the responder handles on raw bytes: header
 * fields, the question section's extent, and responses synthesised from a
 * query that may not even decode (FORMERR, SERVFAIL, a truncation marker).
 * Everything else goes through `dns-packet`.
 */

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Bits of the header's flags word. */
export const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

const OPCODE_MASK = 0x7800;

/** Whether `msg` has a complete header. */
export function hasHeader(msg: Buffer): boolean {
  return msg.length >= 12;
}

export function idOf(msg: Buffer): number {
  return msg.readUInt16BE(0);
}

export function flagsOf(msg: Buffer): number {
  return msg.readUInt16BE(2);
}

/** Opcode (0 = QUERY). */
export function opcodeOf(msg: Buffer): number {
  return (flagsOf(msg) & OPCODE_MASK) >> 11;
}

/**
 * The end offset of a message's single question (header at 0), or
 * undefined when it has not exactly one well-formed, uncompressed question.
 */
export function questionEnd(msg: Buffer): number | undefined {
  if (!hasHeader(msg) || msg.readUInt16BE(4) !== 1) return undefined;
  let off = 12;
  for (let total = 0; ; ) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    off += 1;
    if (len === 0) break;
    if ((len & 0xc0) !== 0) return undefined; // a pointer in the first name can only point backwards into the header
    total += len + 1;
    if (total > 254 || off + len > msg.length) return undefined;
    off += len;
  }
  return off + 4 <= msg.length ? off + 4 : undefined;
}

/**
 * A response to `query` carrying only `rcode` (and the query's question,
 * when it has one to echo — resolvers such as c-ares discard answers whose
 * question does not match). Opcode and RD are copied; RA is set.
 */
export function errorResponse(query: Buffer, rcode: number): Buffer {
  const qEnd = questionEnd(query);
  const question = qEnd !== undefined ? query.subarray(12, qEnd) : Buffer.alloc(0);
  const out = Buffer.alloc(12 + question.length);
  const flags = flagsOf(query);
  out.writeUInt16BE(idOf(query), 0);
  out.writeUInt16BE(FLAG.QR | (flags & OPCODE_MASK) | (flags & FLAG.RD) | FLAG.RA | (rcode & 0xf), 2);
  out.writeUInt16BE(qEnd !== undefined ? 1 : 0, 4);
  question.copy(out, 12);
  return out;
}

/**
 * `answer` cut down to its header and the query's question with TC set:
 * what a UDP client gets when the full answer exceeds what it (or the
 * tunnel) takes — it retries over TCP.
 */
export function truncatedResponse(query: Buffer, answer: Buffer): Buffer {
  const qEnd = questionEnd(query);
  const question = qEnd !== undefined ? query.subarray(12, qEnd) : Buffer.alloc(0);
  const out = Buffer.alloc(12 + question.length);
  out.writeUInt16BE(idOf(answer), 0);
  out.writeUInt16BE(flagsOf(answer) | FLAG.TC, 2);
  out.writeUInt16BE(qEnd !== undefined ? 1 : 0, 4);
  question.copy(out, 12);
  return out;
}

/** `msg` with its 2-byte length prefix (DNS over TCP). */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/**
 * Splits 2-byte length-prefixed messages off a byte stream. `push` returns
 * the complete messages so far; a partial one waits for more bytes.
 */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Buffer[] = [];
    while (this.#buf.length >= 2) {
      const len = this.#buf.readUInt16BE(0);
      if (this.#buf.length < 2 + len) break;
      out.push(Buffer.from(this.#buf.subarray(2, 2 + len)));
      this.#buf = this.#buf.subarray(2 + len);
    }
    return out;
  }

  /** Bytes of an incomplete message held. */
  get buffered(): number {
    return this.#buf.length;
  }
}
