/**
 * BackendScanner: the upstream's bytes pass through unchanged (whatever the
 * chunking), inserted answers land right after the message that asked for
 * them, and the small bodies the session reads are captured whole.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BackendScanner } from "./backend-scanner.js";
import { errorResponse, int16, message, ProtocolError, readyForQuery } from "./wire.js";

function dataRow(...cols: Buffer[]): Buffer {
  const parts: Buffer[] = [int16(cols.length)];
  for (const c of cols) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(c.length, 0);
    parts.push(len, c);
  }
  return message("D", ...parts);
}

const BIG = Buffer.alloc(200 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31 + 7) & 0xff;

/** A realistic answer to `SELECT id, blob FROM t` followed by an error and an idle status. */
const MESSAGES: Buffer[] = [
  message("1"), // ParseComplete: empty body
  message("T", int16(2), "id", 16384, int16(1), 23, int16(4), -1, int16(0), "blob", 16384, int16(2), 17, int16(-1), -1, int16(0)),
  dataRow(Buffer.from("1"), Buffer.from("small")),
  dataRow(Buffer.from("2"), BIG),
  dataRow(Buffer.from("3"), Buffer.alloc(0)),
  message("C", "SELECT 3"),
  message("N", Buffer.from("SNOTICE\0M hi\0\0")),
  errorResponse({ severity: "ERROR", code: "22012", message: "division by zero" }),
  readyForQuery("T"),
];
const STREAM = Buffer.concat(MESSAGES);
const TYPES = MESSAGES.map((m) => String.fromCharCode(m[0]!));
/** End offset of each message in STREAM. */
const ENDS = MESSAGES.reduce<number[]>((acc, m) => [...acc, (acc.at(-1) ?? 0) + m.length], []);

interface Seen {
  type: string;
  body: Buffer | undefined;
  first: number | undefined;
}

function scanAll(chunks: Buffer[], insert?: (type: string, index: number) => Buffer[] | undefined): { out: Buffer; seen: Seen[] } {
  const seen: Seen[] = [];
  const s = new BackendScanner((type, body, first) => {
    seen.push({ type, body: body && Buffer.from(body), first });
    return insert?.(type, seen.length - 1);
  });
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...s.scan(c));
  return { out: Buffer.concat(out), seen };
}

function checkSeen(seen: Seen[], label: string): void {
  assert.deepEqual(
    seen.map((x) => x.type),
    TYPES,
    label,
  );
  for (let i = 0; i < MESSAGES.length; i++) {
    const m = MESSAGES[i]!;
    const body = m.subarray(5);
    assert.equal(seen[i]!.first, body.length ? body[0] : undefined, `${label}: first byte of message ${i}`);
    if ("ZCE".includes(TYPES[i]!)) assert.deepEqual(seen[i]!.body, body, `${label}: captured body of ${TYPES[i]}`);
    else assert.equal(seen[i]!.body, undefined, `${label}: ${TYPES[i]} body not captured`);
  }
}

describe("BackendScanner", () => {
  it("passes the bytes through unchanged for every split into two chunks", () => {
    // Every offset around the small messages and the big row's header / tail; a stride through its middle.
    const cuts = new Set<number>();
    for (let i = 0; i <= STREAM.length; i++) {
      const nearEdge = ENDS.some((e) => Math.abs(i - e) <= 12) || i < 80;
      if (nearEdge || i % 997 === 0) cuts.add(i);
    }
    for (const cut of cuts) {
      const chunks = [STREAM.subarray(0, cut), STREAM.subarray(cut)];
      const { out, seen } = scanAll(chunks);
      assert.ok(out.equals(STREAM), `cut ${cut}: output differs`);
      checkSeen(seen, `cut ${cut}`);
    }
  });

  it("passes the bytes through unchanged fed one byte at a time and in odd-sized chunks", () => {
    const single: Buffer[] = [];
    for (let i = 0; i < STREAM.length; i++) single.push(STREAM.subarray(i, i + 1));
    for (const chunks of [single, split(STREAM, 7), split(STREAM, 4096 + 3), split(STREAM, 65536)]) {
      const { out, seen } = scanAll(chunks);
      assert.ok(out.equals(STREAM), `chunk size ${chunks[0]!.length}`);
      checkSeen(seen, `chunk size ${chunks[0]!.length}`);
    }
  });

  it("does not copy a pass-through chunk when nothing is inserted", () => {
    const s = new BackendScanner(() => undefined);
    const pieces = s.scan(STREAM);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0], STREAM);
  });

  it("inserts bytes exactly after the message whose callback returned them", () => {
    const insertAfter = new Set([0, 3, 5, 7, 8]); // ParseComplete (empty), the big row, C, E, Z (last)
    const marker = (i: number) => Buffer.from(`<${i}>`);
    const want = Buffer.concat(MESSAGES.flatMap((m, i) => (insertAfter.has(i) ? [m, marker(i)] : [m])));
    const cuts = [0, 1, 4, 5, 6, ...ENDS.flatMap((e) => [e - 1, e, e + 1, e + 5])].filter((c) => c >= 0 && c <= STREAM.length);
    for (const cut of cuts) {
      const { out, seen } = scanAll([STREAM.subarray(0, cut), STREAM.subarray(cut)], (_t, i) => (insertAfter.has(i) ? [marker(i)] : undefined));
      assert.ok(out.equals(want), `cut ${cut}: ${JSON.stringify(out.toString("latin1").replace(/[^\x20-\x7e]/g, ".").slice(-120))}`);
      checkSeen(seen, `cut ${cut}`);
    }
    const bytewise: Buffer[] = [];
    for (let i = 0; i < STREAM.length; i++) bytewise.push(STREAM.subarray(i, i + 1));
    assert.ok(scanAll(bytewise, (_t, i) => (insertAfter.has(i) ? [marker(i)] : undefined)).out.equals(want));
    // Several buffers returned at once keep their order; an empty list inserts nothing.
    const multi = scanAll([STREAM], (t) => (t === "C" ? [Buffer.from("a"), Buffer.from("b")] : []));
    const cEnd = ENDS[5]!;
    assert.ok(multi.out.equals(Buffer.concat([STREAM.subarray(0, cEnd), Buffer.from("ab"), STREAM.subarray(cEnd)])));
  });

  it("captures a ReadyForQuery split from its status byte", () => {
    const s = new BackendScanner((type, body, first) => {
      got.push({ type, body, first });
      return undefined;
    });
    const got: Seen[] = [];
    const z = readyForQuery("E");
    s.scan(z.subarray(0, 5));
    assert.equal(got.length, 0, "not complete before its body");
    s.scan(z.subarray(5));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.first, "E".charCodeAt(0));
    assert.deepEqual(got[0]!.body, Buffer.from("E"));
  });

  it("throws ProtocolError on an invalid length", () => {
    for (const len of [3, 0, -1, -0x80000000]) {
      const h = Buffer.alloc(5);
      h[0] = "D".charCodeAt(0);
      h.writeInt32BE(len, 1);
      const s = new BackendScanner(() => undefined);
      s.scan(message("1")); // a valid message first
      s.scan(h.subarray(0, 2));
      assert.throws(() => s.scan(h.subarray(2)), ProtocolError, `length ${len}`);
    }
    // A captured message too large to be legitimate is refused at its header.
    const h = Buffer.alloc(5);
    h[0] = "E".charCodeAt(0);
    h.writeInt32BE(4 + 2 * 1024 * 1024, 1);
    assert.throws(() => new BackendScanner(() => undefined).scan(h), ProtocolError);
    // ... while an equally large DataRow just streams.
    h[0] = "D".charCodeAt(0);
    assert.deepEqual(new BackendScanner(() => undefined).scan(h), [h]);
  });
});

function split(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}
