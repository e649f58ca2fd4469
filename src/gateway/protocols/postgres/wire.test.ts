/**
 * Postgres wire framing: FrameReader across every chunk split, length bounds
 * enforced at the header (before any body is buffered), startup packets,
 * BodyReader overruns, the error encoder / parser round trip and rowsOfTag.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BodyReader,
  CANCEL_REQUEST_CODE,
  cancelRequest,
  errorResponse,
  FrameReader,
  GSSENC_REQUEST_CODE,
  MAX_STARTUP_PACKET,
  message,
  noticeResponse,
  parseErrorFields,
  parseStartup,
  ProtocolError,
  PROTOCOL_V3,
  rowsOfTag,
  sslRequest,
  startupMessage,
  type Frame,
} from "./wire.js";

/** A frame header declaring `len` (which counts itself) for message `type`. */
function header(type: string, len: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = type.charCodeAt(0);
  b.writeInt32BE(len, 1);
  return b;
}

function drain(r: FrameReader): Frame[] {
  const out: Frame[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  return out;
}

const FRAMES = [
  message("Q", "SELECT 1"),
  message("S"), // empty body
  message("P", "stmt", "SELECT $1::int", Buffer.from([0, 1]), 23),
  message("B", "", "stmt", Buffer.from([0, 0, 0, 1, 0, 0, 0, 1]), "7", Buffer.from([0, 0])),
  message("E", "", 0),
  message("d", Buffer.alloc(300, 0xab)),
  message("X"),
];
const STREAM = Buffer.concat(FRAMES);

function expectFrames(got: Frame[]): void {
  assert.equal(got.length, FRAMES.length);
  for (let i = 0; i < FRAMES.length; i++) {
    const want = FRAMES[i]!;
    assert.equal(got[i]!.type, String.fromCharCode(want[0]!), `frame ${i} type`);
    assert.deepEqual(got[i]!.raw, want, `frame ${i} raw`);
    assert.deepEqual(got[i]!.body, want.subarray(5), `frame ${i} body`);
  }
}

describe("FrameReader", () => {
  it("yields the same frames however the stream is split in two", () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const r = new FrameReader(1024);
      const got: Frame[] = [];
      r.push(STREAM.subarray(0, cut));
      got.push(...drain(r));
      r.push(STREAM.subarray(cut));
      got.push(...drain(r));
      expectFrames(got);
      assert.equal(r.buffered, 0, `cut ${cut}: nothing left over`);
    }
  });

  it("yields the same frames fed one byte at a time and at three-way splits", () => {
    const r = new FrameReader(1024);
    const got: Frame[] = [];
    for (let i = 0; i < STREAM.length; i++) {
      r.push(STREAM.subarray(i, i + 1));
      got.push(...drain(r));
    }
    expectFrames(got);
    for (let a = 0; a < STREAM.length; a += 7) {
      for (let b = a; b <= STREAM.length; b += 5) {
        const r3 = new FrameReader(1024);
        const g: Frame[] = [];
        for (const part of [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]) {
          r3.push(part);
          g.push(...drain(r3));
        }
        expectFrames(g);
      }
    }
  });

  it("returns nothing until a frame is complete and keeps the partial bytes", () => {
    const r = new FrameReader(1024);
    const f = message("Q", "SELECT 42");
    r.push(f.subarray(0, 4));
    assert.equal(r.next(), undefined);
    r.push(f.subarray(4, f.length - 1));
    assert.equal(r.next(), undefined);
    assert.equal(r.buffered, f.length - 1);
    r.push(f.subarray(f.length - 1));
    const got = r.next();
    assert.ok(got);
    assert.equal(got.type, "Q");
    assert.equal(got.body.toString("utf8"), "SELECT 42\0");
    assert.equal(r.next(), undefined);
  });

  it("refuses an oversized declared length as soon as the header arrives", () => {
    const r = new FrameReader(100);
    // Exactly at the limit is fine (waits for the body).
    r.push(header("d", 104));
    assert.equal(r.next(), undefined);
    const r2 = new FrameReader(100);
    r2.push(header("d", 105)); // body 101 > 100, and no body byte has arrived
    assert.throws(() => r2.next(), ProtocolError);
    // A header split over chunks is refused once its fifth byte is in.
    const r3 = new FrameReader(100);
    const h = header("Q", 0x7fffffff);
    r3.push(h.subarray(0, 3));
    assert.equal(r3.next(), undefined);
    r3.push(h.subarray(3));
    assert.throws(() => r3.next(), /exceeds/);
    assert.equal(r3.buffered, 5, "only the header was ever buffered");
  });

  it("refuses negative and too-short lengths", () => {
    for (const len of [-1, -0x80000000, 0, 1, 2, 3]) {
      const r = new FrameReader(1 << 20);
      r.push(header("Q", len));
      assert.throws(() => r.next(), ProtocolError, `length ${len}`);
    }
    const r = new FrameReader(1 << 20);
    r.push(header("S", 4));
    const f = r.next();
    assert.ok(f);
    assert.equal(f.body.length, 0);
  });

  it("drain hands back exactly the unconsumed bytes", () => {
    const r = new FrameReader(1024);
    const a = message("Q", "x");
    r.push(Buffer.concat([a, Buffer.from([1, 2])]));
    r.push(Buffer.from([3]));
    assert.deepEqual(r.next()?.raw, a);
    assert.deepEqual(r.drain(), Buffer.from([1, 2, 3]));
    assert.equal(r.buffered, 0);
  });

  it("does not re-copy the whole buffer for every chunk of a frame whose header was split", () => {
    // A frame's header split over chunks used to make every next() concatenate all buffered
    // chunks: quadratic in the frame size (a 64 MiB statement in 64 KiB chunks copied ~32 GiB).
    const chunk = 16 * 1024;
    const n = 512;
    const big = Buffer.concat([header("d", 4 + chunk * n), Buffer.alloc(chunk * n, 7)]);
    const r = new FrameReader(chunk * n);
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    let frame: Frame | undefined;
    try {
      r.push(big.subarray(0, 3));
      assert.equal(r.next(), undefined);
      for (let off = 3; off < big.length; off += chunk) {
        r.push(big.subarray(off, Math.min(big.length, off + chunk)));
        frame = r.next() ?? frame;
      }
    } finally {
      Buffer.concat = concat;
    }
    assert.ok(frame);
    assert.equal(frame.body.length, chunk * n);
    assert.ok(copied <= 3 * big.length, `copied ${copied} bytes for a ${big.length}-byte frame`);
  });
});

describe("startup packets", () => {
  it("reads a startup packet across every split", () => {
    const pkt = startupMessage(new Map([["user", "alice"], ["database", "db"]]));
    for (let cut = 0; cut <= pkt.length; cut++) {
      const r = new FrameReader(1024);
      r.push(pkt.subarray(0, cut));
      let body = r.nextStartup();
      if (cut < pkt.length) assert.equal(body, undefined);
      r.push(pkt.subarray(cut));
      body ??= r.nextStartup();
      assert.ok(body, `cut ${cut}`);
      assert.deepEqual(body, pkt.subarray(4));
      assert.equal(r.buffered, 0);
    }
  });

  it("bounds the startup packet length to [8, 10000]", () => {
    const len = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n, 0);
      return b;
    };
    for (const n of [MAX_STARTUP_PACKET + 1, 0x7fffffff, 7, 4, 0, -1]) {
      const r = new FrameReader(1 << 20);
      r.push(len(n));
      assert.throws(() => r.nextStartup(), ProtocolError, `length ${n}`);
    }
    for (const n of [8, MAX_STARTUP_PACKET]) {
      const r = new FrameReader(1 << 20);
      r.push(len(n));
      assert.equal(r.nextStartup(), undefined, `length ${n} waits for its body`);
      r.push(Buffer.alloc(n - 4));
      assert.equal(r.nextStartup()?.length, n - 4);
    }
  });

  it("parses SSL, GSSENC, cancel and startup requests", () => {
    const body = (b: Buffer) => b.subarray(4);
    assert.deepEqual(parseStartup(body(sslRequest())), { kind: "ssl" });
    assert.deepEqual(parseStartup(body(message(undefined, GSSENC_REQUEST_CODE))), { kind: "gssenc" });
    assert.deepEqual(parseStartup(body(cancelRequest(1234, -5))), { kind: "cancel", pid: 1234, secret: -5 });
    assert.equal(sslRequest().length, 8);
    assert.equal(cancelRequest(1, 2).length, 16);
    const params = new Map([
      ["user", "bob"],
      ["database", "app"],
      ["application_name", "psql é"],
    ]);
    const s = parseStartup(body(startupMessage(params)));
    assert.equal(s.kind, "startup");
    assert.ok(s.kind === "startup");
    assert.equal(s.major, 3);
    assert.equal(s.minor, 0);
    assert.deepEqual([...s.params], [...params]);
    // Minor version kept; old major versions parse without params.
    const s2 = parseStartup(body(message(undefined, PROTOCOL_V3 + 2, "user", "u", Buffer.from([0]))));
    assert.ok(s2.kind === "startup" && s2.minor === 2 && s2.params.get("user") === "u");
    const s3 = parseStartup(body(message(undefined, 2 << 16, "junk")));
    assert.ok(s3.kind === "startup" && s3.major === 2 && s3.params.size === 0);
  });

  it("refuses truncated startup bodies", () => {
    assert.throws(() => parseStartup(Buffer.alloc(3)), ProtocolError);
    // cancel without its secret
    assert.throws(() => parseStartup(message(undefined, CANCEL_REQUEST_CODE, 1).subarray(4)), ProtocolError);
    // v3 params without the terminating empty key / an unterminated value
    assert.throws(() => parseStartup(message(undefined, PROTOCOL_V3, "user", "u").subarray(4)), ProtocolError);
    assert.throws(() => parseStartup(Buffer.concat([message(undefined, PROTOCOL_V3, "user").subarray(4), Buffer.from("u")])), ProtocolError);
  });
});

describe("BodyReader", () => {
  it("reads fields in order", () => {
    const r = new BodyReader(Buffer.concat([Buffer.from([0, 0, 1, 0, 0xff, 0xfe, 9]), Buffer.from("ab\0cd")]));
    assert.equal(r.int32(), 256);
    assert.equal(r.int16(), -2);
    assert.equal(r.byte(), 9);
    assert.equal(r.cstring(), "ab");
    assert.deepEqual(r.bytes(2), Buffer.from("cd"));
    assert.equal(r.remaining, 0);
  });

  it("throws ProtocolError on every overrun", () => {
    assert.throws(() => new BodyReader(Buffer.alloc(3)).int32(), ProtocolError);
    assert.throws(() => new BodyReader(Buffer.alloc(1)).int16(), ProtocolError);
    assert.throws(() => new BodyReader(Buffer.alloc(0)).byte(), ProtocolError);
    assert.throws(() => new BodyReader(Buffer.alloc(2)).bytes(3), ProtocolError);
    assert.throws(() => new BodyReader(Buffer.alloc(2)).bytes(-1), ProtocolError);
    assert.throws(() => new BodyReader(Buffer.from("abc")).cstring(), ProtocolError);
    const r = new BodyReader(Buffer.alloc(6));
    r.int32();
    assert.throws(() => r.int32(), ProtocolError);
    assert.equal(r.int16(), 0, "a failed read consumes nothing");
  });
});

describe("ErrorResponse", () => {
  it("round-trips through parseErrorFields", () => {
    const f = { severity: "ERROR" as const, code: "42501", message: "denied: ünïcode", detail: "d", hint: "h" };
    const e = errorResponse(f);
    assert.equal(String.fromCharCode(e[0]!), "E");
    assert.equal(e.readInt32BE(1), e.length - 1);
    const m = parseErrorFields(e.subarray(5));
    assert.equal(m.get("S"), "ERROR");
    assert.equal(m.get("V"), "ERROR");
    assert.equal(m.get("C"), "42501");
    assert.equal(m.get("M"), "denied: ünïcode");
    assert.equal(m.get("D"), "d");
    assert.equal(m.get("H"), "h");
    const n = noticeResponse({ severity: "NOTICE", code: "00000", message: "hi" });
    assert.equal(String.fromCharCode(n[0]!), "N");
    const nm = parseErrorFields(n.subarray(5));
    assert.deepEqual([...nm.keys()].sort(), ["C", "M", "S", "V"]);
  });

  it("refuses a truncated field list", () => {
    const e = errorResponse({ severity: "ERROR", code: "42501", message: "x" });
    for (let cut = 5; cut < e.length; cut++) {
      assert.throws(() => parseErrorFields(e.subarray(5, cut)), ProtocolError, `cut ${cut}`);
    }
  });
});

describe("rowsOfTag", () => {
  it("reads the trailing row count", () => {
    assert.equal(rowsOfTag("SELECT 5"), 5);
    assert.equal(rowsOfTag("INSERT 0 1"), 1);
    assert.equal(rowsOfTag("UPDATE 300"), 300);
    assert.equal(rowsOfTag("COPY 0"), 0);
    assert.equal(rowsOfTag("BEGIN"), null);
    assert.equal(rowsOfTag("CREATE TABLE"), null);
    assert.equal(rowsOfTag(""), null);
  });
});
