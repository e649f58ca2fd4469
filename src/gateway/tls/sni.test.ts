import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { CLIENT_HELLO_PEEK_LIMIT, peekClientHello, type ClientHelloPeek } from "./sni.js";
import { captureClientHello } from "./test-helpers.js";
import { prng } from "../../testing/prng.js";

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const vec16 = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);

function ext(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(body)]);
}
function sniExt(...names: string[]): Buffer {
  return ext(0, vec16(Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0]), vec16(Buffer.from(n, "latin1"))])))));
}
function alpnExt(...protos: string[]): Buffer {
  return ext(16, vec16(Buffer.concat(protos.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])))));
}

/** A synthetic ClientHello with the given extensions, framed in records of `recordSize`. */
function hello(exts: Buffer[] | null, recordSize = 16384): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    vec16(Buffer.from([0x13, 0x01, 0xc0, 0x2f])),
    Buffer.from([1, 0]),
    exts === null ? Buffer.alloc(0) : vec16(Buffer.concat(exts)),
  ]);
  return frame(Buffer.concat([Buffer.from([1]), u24(body.length), body]), recordSize);
}
function frame(hs: Buffer, recordSize: number): Buffer {
  const recs: Buffer[] = [];
  for (let i = 0; i < hs.length; i += recordSize) {
    const frag = hs.subarray(i, i + recordSize);
    recs.push(Buffer.concat([Buffer.from([0x16, 3, 1]), u16(frag.length), frag]));
  }
  return Buffer.concat(recs);
}
/** The handshake bytes of a single-record hello. */
const unframe = (rec: Buffer): Buffer => rec.subarray(5, 5 + rec.readUInt16BE(3));

let real: Buffer;
let realNoSni: Buffer;
before(async () => {
  real = await captureClientHello({ servername: "api.example.test", ALPNProtocols: ["h2", "http/1.1"] });
  realNoSni = await captureClientHello({});
});

describe("peekClientHello on real ClientHellos", () => {
  it("finds SNI and ALPN in Node's ClientHello", () => {
    assert.deepEqual(peekClientHello(real), { kind: "tls", sni: "api.example.test", alpn: ["h2", "http/1.1"] });
  });

  it("no SNI when the client connects by IP", () => {
    assert.deepEqual(peekClientHello(realNoSni), { kind: "tls", alpn: [] });
  });

  it("ignores bytes after the ClientHello", () => {
    const more = Buffer.concat([real, Buffer.from([0x14, 3, 3, 0, 1, 1]), Buffer.alloc(100, 0xee)]);
    assert.deepEqual(peekClientHello(more), peekClientHello(real));
  });

  it("every truncated prefix asks for more, with a useful minimum", () => {
    for (let n = 0; n < real.length; n++) {
      const r = peekClientHello(real.subarray(0, n));
      assert.equal(r.kind, "need-more", `prefix ${n}`);
      if (r.kind === "need-more") {
        assert.ok(r.minBytes !== undefined && r.minBytes > n && r.minBytes <= real.length, `prefix ${n}: minBytes ${r.minBytes}`);
      }
    }
  });

  it("the same hello split over several records parses the same", () => {
    for (const size of [1, 7, 100, 300]) {
      const split = frame(unframe(real), size);
      assert.deepEqual(peekClientHello(split), { kind: "tls", sni: "api.example.test", alpn: ["h2", "http/1.1"] }, `records of ${size}`);
      const cut = peekClientHello(split.subarray(0, split.length - 1));
      assert.equal(cut.kind, "need-more");
    }
  });
});

describe("peekClientHello on other protocols", () => {
  const cases: [string, Buffer][] = [
    ["HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n")],
    ["HTTP CONNECT", Buffer.from("CONNECT api.example.test:443 HTTP/1.1\r\n\r\n")],
    ["SSH banner", Buffer.from("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")],
    ["Postgres SSLRequest", Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])],
    ["Postgres startup", Buffer.concat([Buffer.from([0, 0, 0, 0x29, 0, 3, 0, 0]), Buffer.from("user\0postgres\0database\0postgres\0\0")])],
    ["SSLv2-style hello", Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])],
    ["TLS alert record", Buffer.from([0x15, 3, 3, 0, 2, 2, 40])],
    ["TLS record, not a ClientHello", Buffer.from([0x16, 3, 3, 0, 4, 2, 0, 0, 0])],
    ["zero-length record", Buffer.from([0x16, 3, 1, 0, 0])],
    ["oversized record", Buffer.from([0x16, 3, 1, 0x48, 0x01, 1])],
    ["record version 2", Buffer.from([0x16, 2, 0])],
  ];
  for (const [label, bytes] of cases) {
    it(`${label} → not-tls`, () => {
      assert.equal(peekClientHello(bytes).kind, "not-tls");
    });
  }

  it("decides on the first byte when it can", () => {
    assert.equal(peekClientHello(Buffer.from("G")).kind, "not-tls");
    assert.equal(peekClientHello(Buffer.from([0])).kind, "not-tls");
    assert.deepEqual(peekClientHello(Buffer.alloc(0)), { kind: "need-more", minBytes: 5 });
    assert.deepEqual(peekClientHello(Buffer.from([0x16])), { kind: "need-more", minBytes: 5 });
  });
});

describe("peekClientHello on crafted ClientHellos", () => {
  it("extensions in any order, other extensions skipped", () => {
    const r = peekClientHello(hello([ext(0x2b, Buffer.from([2, 3, 4])), alpnExt("http/1.1"), ext(0xff01, Buffer.from([0])), sniExt("Mixed.Case.Test")]));
    assert.deepEqual(r, { kind: "tls", sni: "mixed.case.test", alpn: ["http/1.1"] });
  });

  it("no extensions at all", () => {
    assert.deepEqual(peekClientHello(hello(null)), { kind: "tls", alpn: [] });
  });

  it("malformed hellos are not-tls", () => {
    const bad: [string, Buffer][] = [
      ["duplicate server_name", hello([sniExt("a.test"), sniExt("b.test")])],
      ["two host_names", hello([sniExt("a.test", "b.test")])],
      ["empty host_name", hello([sniExt("")])],
      ["control byte in host_name", hello([sniExt("a\u0000.test")])],
      ["non-ASCII host_name", hello([sniExt("ex\u00e4mple.test")])],
      ["empty server_name extension", hello([ext(0, Buffer.alloc(0))])],
      ["server_name list length lies", hello([ext(0, Buffer.from([0, 9, 0, 0, 1, 0x61]))])],
      ["empty ALPN name", hello([alpnExt("")])],
      ["ALPN list length lies", hello([ext(16, Buffer.from([0, 5, 2, 0x68, 0x32]))])],
      ["extension runs past the block", hello([Buffer.from([0, 0, 0, 50, 0, 1])])],
    ];
    for (const [label, bytes] of bad) {
      const r = peekClientHello(bytes);
      assert.equal(r.kind, "not-tls", label);
      assert.ok(r.kind === "not-tls" && r.reason.length > 0);
    }
  });

  it("a hello larger than the peek limit reports what it saw, marked truncated", () => {
    const pad = ext(0x15, Buffer.alloc(20000));
    const early = hello([sniExt("early.test"), alpnExt("h2"), pad]);
    assert.ok(early.length > CLIENT_HELLO_PEEK_LIMIT);
    const partial = peekClientHello(early.subarray(0, 5000));
    assert.equal(partial.kind, "need-more");
    assert.ok(partial.kind === "need-more" && partial.minBytes === CLIENT_HELLO_PEEK_LIMIT, "never asks past the limit");
    assert.deepEqual(peekClientHello(early), { kind: "tls", sni: "early.test", alpn: ["h2"], truncated: true });

    const late = hello([pad, sniExt("late.test")]);
    assert.deepEqual(peekClientHello(late), { kind: "tls", alpn: [], truncated: true });
  });

  it("a hello under the limit split over records (post-quantum sized) is complete", () => {
    const big = hello([ext(0x33, Buffer.alloc(1300, 1)), sniExt("pq.example.test"), alpnExt("h2", "http/1.1")], 512);
    assert.deepEqual(peekClientHello(big), { kind: "tls", sni: "pq.example.test", alpn: ["h2", "http/1.1"] });
  });
});

describe("peekClientHello fuzz", () => {
  const SEED = Number(process.env.SNI_FUZZ_SEED ?? 0x5eed) >>> 0;
  const BUDGET_MS = 1500;

  function check(input: Buffer, what: string): void {
    let r: ClientHelloPeek;
    try {
      r = peekClientHello(input);
    } catch (e) {
      assert.fail(`threw on ${what}: ${(e as Error).message}; input ${input.toString("hex").slice(0, 400)}`);
    }
    switch (r.kind) {
      case "tls":
        assert.ok(Array.isArray(r.alpn) && r.alpn.every((p) => typeof p === "string" && p.length > 0), what);
        if (r.sni !== undefined) assert.match(r.sni, /^[\x21-\x7e]+$/, what);
        break;
      case "need-more":
        // Progress guarantee: it must ask for more than it has, within the cap.
        assert.ok(r.minBytes !== undefined && r.minBytes > input.length && r.minBytes <= CLIENT_HELLO_PEEK_LIMIT, `${what}: ${r.minBytes} vs ${input.length}`);
        break;
      case "not-tls":
        assert.equal(typeof r.reason, "string");
        break;
      default:
        assert.fail(`unknown kind for ${what}`);
    }
  }

  it(`random and mutated inputs never throw (seed ${SEED}, ${BUDGET_MS} ms)`, (t) => {
    const rand = prng(SEED);
    const int = (n: number): number => Math.floor(rand() * n);
    const seeds = [real, realNoSni, frame(unframe(real), 50), hello([sniExt("a.test"), alpnExt("h2")]), hello(null)];
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < BUDGET_MS) {
      n++;
      let input: Buffer;
      const mode = int(4);
      if (mode === 0) {
        input = Buffer.alloc(int(300));
        for (let i = 0; i < input.length; i++) input[i] = int(256);
        if (rand() < 0.7 && input.length > 0) input[0] = 0x16; // get past the first byte
        if (rand() < 0.5 && input.length > 1) input[1] = 3;
      } else {
        input = Buffer.from(seeds[int(seeds.length)] ?? real);
        const edits = 1 + int(mode === 3 ? 20 : 4);
        for (let e = 0; e < edits; e++) {
          const op = int(5);
          const at = int(input.length + 1);
          if (op === 0 && input.length > 0) input[at % input.length] = int(256);
          else if (op === 1) input = input.subarray(0, at);
          else if (op === 2) input = Buffer.concat([input.subarray(0, at), Buffer.from([int(256), int(256)]), input.subarray(at)]);
          else if (op === 3) input = Buffer.concat([input.subarray(0, at), input.subarray(Math.min(input.length, at + 1 + int(8)))]);
          else if (input.length > at + 1) input.writeUInt16BE(rand() < 0.5 ? 0xffff : int(0x10000), Math.max(0, at - 1) % (input.length - 1));
        }
      }
      check(input, `case ${n} mode ${mode}`);
    }
    // Large inputs (past the limit) too.
    for (let i = 0; i < 20; i++) {
      const big = Buffer.alloc(CLIENT_HELLO_PEEK_LIMIT + int(5000));
      for (let j = 0; j < big.length; j += 1 + int(64)) big[j] = int(256);
      big[0] = 0x16;
      big[1] = 3;
      check(big, `big ${i}`);
    }
    t.diagnostic(`${n} inputs`);
  });
});
