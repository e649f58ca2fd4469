/**
 * Bounded-time fuzz of the Postgres framing, startup and message parsers,
 * and of the agent startup phase over an in-memory stream. Inputs are valid
 * messages mutated (bytes flipped, truncated, lengths rewritten, spliced)
 * or plain random bytes, fed in random chunks. Properties: the only
 * exception is ProtocolError, nothing hangs, and the frame reader never
 * holds more than one maximal frame plus the chunk just pushed.
 *
 * The seed is printed; replay a failure with PG_FUZZ_SEED=<seed>.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import type { SecureContext } from "node:tls";
import { prng } from "../../../testing/prng.js";
import { BackendScanner } from "./backend-scanner.js";
import { agentHello } from "./startup.js";
import {
  BodyReader,
  cancelRequest,
  errorResponse,
  FrameReader,
  GSSENC_REQUEST_CODE,
  int16,
  MAX_STARTUP_PACKET,
  message,
  parseBind,
  parseErrorFields,
  parseExecute,
  parseParse,
  parseQuery,
  parseStartup,
  parseTarget,
  ProtocolError,
  PROTOCOL_V3,
  readyForQuery,
  sslRequest,
  startupMessage,
} from "./wire.js";

const SEED = process.env.PG_FUZZ_SEED ? Number(process.env.PG_FUZZ_SEED) : Date.now() % 0x7fffffff;
console.log(`postgres fuzz seed: ${SEED} (replay with PG_FUZZ_SEED=${SEED})`);

/** Time budget per property (the whole file stays under ~3 s). */
const BUDGET_MS = 400;

type Rand = () => number;

function tools(rand: Rand) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  return { int, pick, bytes };
}

const MAX_FRAME = 2048;

const FRONTEND: Buffer[] = [
  message("Q", "SELECT 1; SELECT 2"),
  message("P", "s1", "SELECT $1", int16(1), 23),
  message("B", "p1", "s1", int16(0), int16(1), 1, "7", int16(0)),
  message("D", Buffer.from("P"), "p1"),
  message("E", "p1", 0),
  message("C", Buffer.from("S"), "s1"),
  message("S"),
  message("H"),
  message("d", Buffer.alloc(100, 1)),
  message("c"),
  message("f", "oops"),
  message("p", "secret"),
  message("X"),
  message("Q", Buffer.alloc(MAX_FRAME - 1, 0x41), Buffer.from([0])), // exactly the limit
];

const BACKEND: Buffer[] = [
  message("R", 0),
  message("S", "client_encoding", "UTF8"),
  message("K", 1, 2),
  message("1"),
  message("2"),
  message("T", int16(1), "a", 0, int16(0), 23, int16(4), -1, int16(0)),
  message("D", int16(1), 1, Buffer.from("x")),
  message("D", int16(1), 3000, Buffer.alloc(3000, 9)),
  message("C", "SELECT 1"),
  message("n"),
  message("I"),
  errorResponse({ severity: "ERROR", code: "42P01", message: "nope" }),
  readyForQuery("I"),
  readyForQuery("T"),
];

const STARTUP: Buffer[] = [
  startupMessage(new Map([["user", "u"], ["database", "d"]])),
  startupMessage(new Map([["user", "u"], ["_pq_.compression", "on"]])),
  message(undefined, PROTOCOL_V3 + 1, "user", "u", Buffer.from([0])),
  message(undefined, 2 << 16, "user", "u", Buffer.from([0])),
  sslRequest(),
  message(undefined, GSSENC_REQUEST_CODE),
  cancelRequest(42, -7),
];

const LENGTHS = [-0x80000000, -1, 0, 1, 3, 4, 5, 7, 8, 9, MAX_FRAME + 3, MAX_FRAME + 4, MAX_FRAME + 5, MAX_STARTUP_PACKET, MAX_STARTUP_PACKET + 1, 0x7fffffff];

/** One mutation of `b`; `pool` supplies material to splice in. */
function mutate(rand: Rand, b: Buffer, pool: readonly Buffer[], typed: boolean): Buffer {
  const { int, pick, bytes } = tools(rand);
  const out = Buffer.from(b);
  switch (int(7)) {
    case 0: {
      // flip bytes
      for (let k = 1 + int(3); k > 0 && out.length > 0; k--) {
        const at = int(out.length);
        out[at] = out[at]! ^ (1 << int(8));
      }
      return out;
    }
    case 1:
      return out.subarray(0, int(out.length + 1)); // truncate
    case 2: {
      // rewrite the length field
      const at = typed ? 1 : 0;
      if (out.length < at + 4) return out;
      out.writeInt32BE(rand() < 0.6 ? pick(LENGTHS) : (int(2 ** 32) | 0), at);
      return out;
    }
    case 3: {
      // nudge the length by a little
      const at = typed ? 1 : 0;
      if (out.length < at + 4) return out;
      out.writeInt32BE((out.readInt32BE(at) + int(9) - 4) | 0, at);
      return out;
    }
    case 4: {
      // splice part of another message in
      const other = pick(pool);
      const from = int(other.length + 1);
      const piece = other.subarray(from, from + int(other.length - from + 1));
      const at = int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), piece, out.subarray(at)]);
    }
    case 5: {
      // delete a range
      const a = int(out.length + 1);
      const z = a + int(out.length - a + 1);
      return Buffer.concat([out.subarray(0, a), out.subarray(z)]);
    }
    default:
      return Buffer.concat([out, bytes(int(16))]); // trailing junk
  }
}

/** A stream of a few messages from `pool`, some mutated, sometimes plain random bytes. */
function stream(rand: Rand, pool: readonly Buffer[], typed: boolean): Buffer {
  const { int, pick, bytes } = tools(rand);
  if (rand() < 0.1) return bytes(int(64));
  const parts: Buffer[] = [];
  for (let n = 1 + int(5); n > 0; n--) {
    let m = pick(pool);
    for (let k = rand() < 0.6 ? 1 + int(2) : 0; k > 0; k--) m = mutate(rand, m, pool, typed);
    parts.push(m);
  }
  return Buffer.concat(parts);
}

function chunks(rand: Rand, b: Buffer): Buffer[] {
  const { int } = tools(rand);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = rand() < 0.3 ? 1 + int(4) : 1 + int(512);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Runs `f` and fails unless it returned or threw a ProtocolError. */
function onlyProtocolError(what: string, input: Buffer, f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof ProtocolError) return false;
    assert.fail(`seed ${SEED}: ${what} threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} for input ${input.toString("hex").slice(0, 400)}`);
  }
}

function forBudget(body: (rand: Rand, iter: number) => void): number {
  const rand = prng(SEED);
  const until = Date.now() + BUDGET_MS;
  let iter = 0;
  while (Date.now() < until) body(rand, iter++);
  return iter;
}

describe(`postgres parser fuzz (seed ${SEED})`, () => {
  it("FrameReader.next: only ProtocolError, bounded buffering, progress on every frame", () => {
    const iters = forBudget((rand) => {
      const input = stream(rand, FRONTEND, true);
      const r = new FrameReader(MAX_FRAME);
      let consumed = 0;
      onlyProtocolError("FrameReader.next", input, () => {
        for (const c of chunks(rand, input)) {
          r.push(c);
          assert.ok(r.buffered <= MAX_FRAME + 4 + c.length, `seed ${SEED}: ${r.buffered} buffered after a ${c.length}-byte chunk`);
          for (let f = r.next(); f; f = r.next()) {
            assert.equal(f.raw.length, 5 + f.body.length);
            assert.ok(f.body.length <= MAX_FRAME);
            assert.equal(f.raw.readInt32BE(1), f.body.length + 4);
            assert.ok(input.subarray(consumed, consumed + f.raw.length).equals(f.raw), `seed ${SEED}: frame is not the next input bytes`);
            consumed += f.raw.length;
          }
          assert.ok(r.buffered <= MAX_FRAME + 4, `seed ${SEED}: ${r.buffered} bytes buffered between frames`);
        }
        assert.equal(consumed + r.buffered, input.length, "every byte is either framed or still buffered");
      });
    });
    assert.ok(iters > 100, `only ${iters} iterations`);
  });

  it("FrameReader.nextStartup + parseStartup: only ProtocolError, bounded buffering", () => {
    forBudget((rand) => {
      const input = stream(rand, STARTUP, false);
      const r = new FrameReader(MAX_FRAME);
      onlyProtocolError("nextStartup/parseStartup", input, () => {
        for (const c of chunks(rand, input)) {
          r.push(c);
          for (let body = r.nextStartup(); body; body = r.nextStartup()) {
            assert.ok(body.length >= 4 && body.length <= MAX_STARTUP_PACKET - 4);
            const p = parseStartup(body);
            assert.ok(["ssl", "gssenc", "cancel", "startup"].includes(p.kind));
          }
          assert.ok(r.buffered < MAX_STARTUP_PACKET, `seed ${SEED}: ${r.buffered} bytes buffered for a startup packet`);
        }
      });
    });
  });

  it("message body parsers: only ProtocolError on mutated and random bodies", () => {
    const parsers: [string, (b: Buffer) => unknown][] = [
      ["parseParse", parseParse],
      ["parseBind", parseBind],
      ["parseExecute", parseExecute],
      ["parseTarget", parseTarget],
      ["parseQuery", parseQuery],
      ["parseErrorFields", parseErrorFields],
      ["parseStartup", parseStartup],
      [
        "BodyReader",
        (b) => {
          const r = new BodyReader(b);
          // A fixed read plan driven by the body itself.
          for (let i = 0; i < 8; i++) {
            const op = b[i] ?? 0;
            if (op % 5 === 0) r.int32();
            else if (op % 5 === 1) r.int16();
            else if (op % 5 === 2) r.cstring();
            else if (op % 5 === 3) r.bytes(r.int16());
            else r.byte();
          }
        },
      ],
    ];
    const bodies = [...FRONTEND, ...BACKEND].map((m) => m.subarray(5)).concat(STARTUP.map((m) => m.subarray(4)));
    forBudget((rand) => {
      const { pick, int, bytes } = tools(rand);
      const body = rand() < 0.2 ? bytes(int(40)) : mutate(rand, pick(bodies), bodies, false);
      for (const [name, parse] of parsers) onlyProtocolError(name, body, () => void parse(body));
    });
  });

  it("BackendScanner: only ProtocolError; when accepted, the bytes pass through unchanged", () => {
    forBudget((rand) => {
      const input = stream(rand, BACKEND, true);
      const out: Buffer[] = [];
      const s = new BackendScanner((type, body, first) => {
        if ("ZCE".includes(type)) assert.ok(body, `seed ${SEED}: ${type} body not captured`);
        if (body) assert.equal(first, body[0]);
        return undefined;
      });
      const ok = onlyProtocolError("BackendScanner.scan", input, () => {
        for (const c of chunks(rand, input)) out.push(...s.scan(c));
      });
      if (ok) assert.ok(Buffer.concat(out).equals(input), `seed ${SEED}: pass-through differs`);
    });
  });
});

/** An agent stream: reads come from `input`, writes are collected. */
function agentStream(input: Buffer[]): { stream: Duplex; written: Buffer[] } {
  const written: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  for (const c of input) stream.push(c);
  stream.push(null);
  return { stream, written };
}

class TlsReached extends Error {}
const noTls = (): Promise<SecureContext> => Promise.reject(new TlsReached("TLS requested"));

async function hello(input: Buffer[], timeoutMs: number) {
  const { stream, written } = agentStream(input);
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      agentHello(stream, noTls).then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
      new Promise<"hang">((resolve) => (timer = setTimeout(() => resolve("hang"), timeoutMs))),
    ]);
    return { result, written };
  } finally {
    clearTimeout(timer);
    stream.destroy();
  }
}

describe(`agentHello fuzz (seed ${SEED})`, () => {
  it("refuses data pipelined after an SSLRequest and asks for TLS only on a clean one", async () => {
    const a = await hello([sslRequest()], 1000);
    assert.ok(a.result !== "hang" && !a.result.ok && a.result.e instanceof TlsReached);
    const b = await hello([Buffer.concat([sslRequest(), startupMessage(new Map([["user", "u"]]))])], 1000);
    assert.ok(b.result !== "hang" && !b.result.ok && b.result.e instanceof ProtocolError, "plaintext smuggled behind SSLRequest refused");
    const c = await hello([message(undefined, GSSENC_REQUEST_CODE), startupMessage(new Map([["user", "u"], ["_pq_.x", "1"]]))], 1000);
    assert.ok(c.result !== "hang" && c.result.ok && c.result.v.kind === "startup");
    assert.equal(Buffer.concat(c.written).subarray(0, 1).toString(), "N", "GSSENC refused with N");
    assert.equal(c.result.v.params.has("_pq_.x"), false);
    assert.equal(Buffer.concat(c.written)[1], "v".charCodeAt(0), "NegotiateProtocolVersion for the _pq_ option");
  });

  it("mutated agent streams: a startup, a cancel, or a ProtocolError — never a crash or a hang", async () => {
    const rand = prng(SEED ^ 0x5eed);
    const until = Date.now() + 750;
    let iters = 0;
    const outcomes = new Map<string, number>();
    while (Date.now() < until) {
      iters++;
      const input = stream(rand, STARTUP, false);
      const { result } = await hello(chunks(rand, input), 2000);
      const hex = input.toString("hex").slice(0, 400);
      assert.notEqual(result, "hang", `seed ${SEED}: agentHello hung on ${hex}`);
      if (result === "hang") return;
      let kind: string;
      if (result.ok) {
        kind = result.v.kind;
        if (result.v.kind === "startup") {
          assert.equal([...result.v.params.keys()].some((k) => k.startsWith("_pq_.")), false);
          result.v.ms.detach();
        }
      } else {
        const e = result.e;
        assert.ok(e instanceof ProtocolError || e instanceof TlsReached, `seed ${SEED}: agentHello rejected with ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} on ${hex}`);
        kind = e instanceof TlsReached ? "tls" : "protocol-error";
      }
      outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    }
    console.log(`agentHello fuzz: ${iters} streams`, Object.fromEntries(outcomes));
    assert.ok(iters > 50, `only ${iters} iterations`);
    assert.ok((outcomes.get("protocol-error") ?? 0) > 0 && (outcomes.get("startup") ?? 0) > 0, "the fuzz reached both outcomes");
  });
});
