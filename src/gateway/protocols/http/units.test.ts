import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { prng } from "../../../testing/prng.js";
import { Redactor } from "../../redact.js";
import { auditBody, collectBody, forwardBody, inspectedPrefix } from "./body.js";
import { auditHeaders, changedHeaders, dispatchTexts, outboundHeaders, sanitizeResponseHeaders, setHeader } from "./headers.js";
import { holdFrom, RedactingStream } from "./redact-stream.js";
import { redactDeep, NO_REDACTION } from "./scrub.js";
import { hostOfHeader } from "./request.js";

async function runStream(r: Redactor, chunks: Buffer[]): Promise<{ out: Buffer; emittedBeforeEnd: number }> {
  const s = new RedactingStream(r);
  const out: Buffer[] = [];
  s.on("data", (c: Buffer) => out.push(c));
  for (const c of chunks) s.write(c);
  await new Promise((resolve) => setImmediate(resolve));
  const emittedBeforeEnd = Buffer.concat(out).length;
  s.end();
  await new Promise((resolve) => s.once("end", resolve));
  return { out: Buffer.concat(out), emittedBeforeEnd };
}

describe("RedactingStream", () => {
  const secret = "sk-live-0123456789abcdef";
  const r = new Redactor([secret]);

  it("holds back only a tail that could start a secret", async () => {
    const sse = Buffer.from("data: {\"delta\":\"hi\"}\n\n");
    const { emittedBeforeEnd } = await runStream(r, [sse]);
    assert.equal(emittedBeforeEnd, sse.length, "an SSE event passes at once");
    const partial = await runStream(r, [Buffer.from("x sk-live-01")]);
    assert.equal(partial.emittedBeforeEnd, 2, "the possible start of the secret is held");
    assert.equal(partial.out.toString(), "x sk-live-01");
    assert.equal(holdFrom(Buffer.from("a b\n"), r.patterns, r.maxPatternLength), 4);
  });

  it("equals the one-shot redaction for any chunking (fuzz)", async () => {
    const rand = prng(20261122);
    const b64 = Buffer.from(secret).toString("base64");
    const pieces = [secret, b64, encodeURIComponent(secret), "sk-live-", "sk-live-0123", "abc", "\n\n", "data: ", secret.slice(3)];
    for (let iter = 0; iter < 300; iter++) {
      let text = "";
      const n = 1 + Math.floor(rand() * 12);
      for (let i = 0; i < n; i++) text += pieces[Math.floor(rand() * pieces.length)];
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const len = 1 + Math.floor(rand() * 9);
        chunks.push(bytes.subarray(at, at + len));
        at += len;
      }
      const { out } = await runStream(r, chunks);
      const oneShot = r.redactBytes(bytes);
      assert.ok(!out.includes(secret) && !out.includes(b64), `leak for ${JSON.stringify(text)}`);
      // Touching runs may be masked as two markers instead of one; the unmasked bytes are identical.
      assert.equal(out.toString().replace(/(\*\*\*)+/g, "***"), oneShot.toString().replace(/(\*\*\*)+/g, "***"), JSON.stringify(text));
    }
  });
});

describe("headers", () => {
  it("outbound: hop-by-hop, Connection-named, Proxy-* and Expect go; order and spelling stay", () => {
    const out = outboundHeaders(
      [
        ["Host", "a.test"],
        ["Connection", "keep-alive, X-Hop"],
        ["X-Hop", "1"],
        ["Keep-Alive", "timeout=5"],
        ["Proxy-Authorization", "Basic eA=="],
        ["TE", "trailers"],
        ["Upgrade", "websocket"],
        ["Expect", "100-continue"],
        ["Content-Length", "3"],
        ["X-Keep", "yes"],
      ],
      { upgrade: false },
    );
    assert.deepEqual(out, [
      ["Host", "a.test"],
      ["Content-Length", "3"],
      ["X-Keep", "yes"],
    ]);
    const up = outboundHeaders([["Upgrade", "websocket"], ["Connection", "Upgrade"]], { upgrade: true });
    assert.deepEqual(up, [["Upgrade", "websocket"], ["Connection", "Upgrade"]]);
  });

  it("response: cookies, challenges, Alt-Svc, pins and hop-by-hop go; secrets are redacted", () => {
    const r = new Redactor(["s3cr3t-value"]);
    const flat = sanitizeResponseHeaders(
      [
        ["Set-Cookie", "a=1"],
        ["set-cookie2", "b=2"],
        ["WWW-Authenticate", "Basic"],
        ["Proxy-Authenticate", "Basic"],
        ["Alt-Svc", "h3=\":443\""],
        ["Public-Key-Pins-Report-Only", "x"],
        ["Transfer-Encoding", "chunked"],
        ["Content-Length", "10"],
        ["X-Echo", "token s3cr3t-value"],
        ["Content-Type", "text/plain"],
      ],
      { redaction: r, rewritesBody: true },
    );
    assert.deepEqual(flat, ["X-Echo", "token ***", "Content-Type", "text/plain"]);
    const keep = sanitizeResponseHeaders([["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Content-Length", "0"]], { redaction: NO_REDACTION, upgrade: true });
    assert.deepEqual(keep, ["Upgrade", "websocket", "Connection", "Upgrade", "Content-Length", "0"]);
  });

  it("dispatch texts, audit masking, injected-header diff, setHeader", () => {
    const pairs: Array<[string, string]> = [
      ["Authorization", "Bearer PH_1"],
      ["X-Goog-Api-Key", "PH_2"],
      ["Accept", "*/*"],
    ];
    assert.deepEqual(dispatchTexts(pairs, "key=PH_3"), ["Bearer PH_1", "PH_2", "key=PH_3"]);
    const masked = auditHeaders([...pairs, ["X-Custom", "abc"], ["X-Other", "has s3cr3t-value"]], new Set(["x-custom"]), new Redactor(["s3cr3t-value"]));
    assert.deepEqual(masked, { authorization: "***", "x-goog-api-key": "***", accept: "*/*", "x-custom": "***", "x-other": "has ***" });
    assert.deepEqual([...changedHeaders([["A", "1"], ["B", "2"]], [["A", "1"], ["b", "3"], ["C", "4"]])].sort(), ["b", "c"]);
    assert.deepEqual(setHeader([["a", "1"], ["B", "2"], ["b", "3"]], "b", "x"), [["a", "1"], ["B", "x"]]);
  });

  it("Host header parsing", () => {
    assert.equal(hostOfHeader("API.example.test:443"), "api.example.test");
    assert.equal(hostOfHeader("[::1]:8443"), "::1");
    assert.equal(hostOfHeader("example.test."), "example.test");
  });
});

describe("bodies", () => {
  it("a body of exactly the limit is complete; one byte more is truncated and nothing is lost", async () => {
    const exact = await collectBody(Readable.from([Buffer.alloc(60), Buffer.alloc(40)]), 100);
    assert.deepEqual([exact.complete, exact.size], [true, 100]);
    const src = Readable.from([Buffer.alloc(60, 1), Buffer.alloc(41, 2), Buffer.alloc(500, 3)]);
    const over = await collectBody(src, 100);
    assert.equal(over.complete, false);
    assert.equal(inspectedPrefix(over, 100).length, 100);
    const sink = new PassThrough();
    const got: Buffer[] = [];
    sink.on("data", (c: Buffer) => got.push(c));
    let counted = 0;
    forwardBody(over, src, sink, (n) => (counted += n));
    await new Promise((resolve) => sink.once("end", resolve));
    assert.equal(Buffer.concat(got).length, 601);
    assert.equal(counted, 601);
  });

  it("audit samples: redacted before the cut, a cut secret does not survive in part", () => {
    const r = new Redactor(["abcdefghij"]);
    assert.deepEqual(auditBody(Buffer.from("xx abcdefghij yy"), 100, r), { body: "xx *** yy", truncated: false });
    // The sample ends inside a secret the stream continued beyond: its start is dropped.
    assert.deepEqual(auditBody(Buffer.from("hello abcde"), 100, r, true), { body: "hello ", truncated: true });
    assert.deepEqual(auditBody(Buffer.from([0xff, 0x00, 0x01]), 100, r), { body: new Uint8Array([0xff, 0x00, 0x01]), truncated: false });
    const deep = redactDeep({ a: ["abcdefghij"], b: new Uint8Array(Buffer.from("-abcdefghij-")) }, r);
    assert.deepEqual(deep, { a: ["***"], b: new Uint8Array(Buffer.from("-***-")) });
  });
});
