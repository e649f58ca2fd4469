import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { prng } from "../testing/prng.js";
import {
  MIN_EMBEDDED_BASE64,
  REDACTED,
  Redactor,
  createRedactStream,
  redactHeaders,
  redactText,
  secretEncodings,
} from "./redact.js";

const SECRET = "sk-live-4f9a8b7c6d5e";

/** Independent reference: mark every byte covered by any pattern occurrence, collapse each run into one marker. */
function oracle(input: Buffer, secrets: readonly string[], marker = REDACTED): Buffer {
  const pats = secrets.flatMap((s) => secretEncodings(s));
  const mask = new Uint8Array(input.length);
  for (const p of pats) {
    for (let i = 0; i + p.length <= input.length; i++) if (input.subarray(i, i + p.length).equals(p)) mask.fill(1, i, i + p.length);
  }
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    if (mask[i] === 0) out.push(input[i]!);
    else if (i === 0 || mask[i - 1] === 0) out.push(...Buffer.from(marker));
  }
  return Buffer.from(out);
}

/** Runs bytes through a fresh stream in the given chunks; also checks the hold-back bound after every write. */
async function viaStream(r: Redactor, chunks: readonly Buffer[]): Promise<Buffer> {
  const s = r.stream();
  const out: Buffer[] = [];
  s.on("data", (d: Buffer) => out.push(d));
  for (const c of chunks) {
    s.write(c);
    assert.ok(s.buffered <= Math.max(r.maxPatternLength - 1, 0), `held back ${s.buffered} > ${r.maxPatternLength - 1}`);
  }
  s.end();
  await once(s, "end");
  return Buffer.concat(out);
}

function split(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const pts = [0, ...cuts, buf.length];
  return pts.slice(1).map((end, i) => buf.subarray(pts[i]!, end));
}

test("text and headers: every occurrence replaced, everything else kept", () => {
  assert.equal(redactText(`a ${SECRET} b ${SECRET}${SECRET} c`, [SECRET]), "a *** b *** c");
  assert.equal(redactText("nothing here", [SECRET]), "nothing here");
  assert.equal(redactText(`x${SECRET}y`, [SECRET], { marker: "[redacted]" }), "x[redacted]y");
  assert.deepEqual(
    redactHeaders([["X-Echo", `Bearer ${SECRET}`], ["Content-Type", "text/plain"], [`x-${SECRET}`, "v"]], [SECRET]),
    [["X-Echo", "Bearer ***"], ["Content-Type", "text/plain"], ["x-***", "v"]],
  );
  assert.equal(redactText(`é${SECRET}ü`, [SECRET]), "é***ü");
});

test("encodings an upstream might echo are redacted (exact list in the module comment)", () => {
  const s = "p@ss w/rd+!*'(){}é\"\\";
  const echoes = [
    s,
    encodeURIComponent(s),
    encodeURIComponent(s).toLowerCase(),
    new URLSearchParams({ k: s }).toString().slice(2),
    Buffer.from(s).toString("base64"),
    Buffer.from(s).toString("base64url"),
    Buffer.from(s).toString("base64").replace(/=+$/, ""),
    JSON.stringify(s).slice(1, -1),
  ];
  for (const e of echoes) assert.equal(redactText(`<${e}>`, [s]), "<***>", e);
  // Lower-case hex of the strict form.
  const strictLower = [...Buffer.from(s)].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : "%" + b.toString(16).padStart(2, "0"))).join("");
  assert.equal(redactText(`<${strictLower}>`, [s]), "<***>");
  // Raw first, no duplicates, nothing for too-short secrets.
  const enc = secretEncodings(SECRET).map((b) => b.toString());
  assert.equal(enc[0], SECRET);
  assert.equal(new Set(enc).size, enc.length);
  assert.deepEqual(secretEncodings("abc"), []);
  assert.ok(secretEncodings("abcd").length > 0);
});

test("a secret embedded in a larger base64 blob is redacted at every alignment", () => {
  for (let pre = 0; pre < 7; pre++) {
    for (let post = 0; post < 4; post++) {
      const prefix = "user:".slice(0, pre).padEnd(pre, "x");
      const plain = Buffer.from(prefix + SECRET + "z".repeat(post));
      for (const alphabet of ["base64", "base64url"] as const) {
        const encoded = plain.toString(alphabet);
        const red = redactText(encoded, [SECRET]);
        const start = red.indexOf(REDACTED);
        assert.ok(start >= 0, `${pre}/${post} ${alphabet}`);
        const tail = red.length - start - REDACTED.length;
        // Characters that depend on the secret's bits span [floor(8p/6), ceil(8(p+n)/6)); at most the
        // one boundary character on each side (shared with neighbouring bytes) may survive.
        const first = Math.floor((8 * pre) / 6);
        const end = Math.ceil((8 * (pre + SECRET.length)) / 6);
        assert.ok(start <= first + 1, `${pre}/${post} ${alphabet}: ${red}`);
        assert.ok(encoded.length - tail >= end - 1, `${pre}/${post} ${alphabet}: ${red}`);
      }
    }
  }
  // Short secrets have no embedded form below the minimum run.
  for (const run of secretEncodings("abcd")) assert.ok(run.length >= 4);
  assert.equal(MIN_EMBEDDED_BASE64, 8);
});

test("short secrets are skipped and counted; no secrets means a pass-through", async () => {
  const r = new Redactor(["abc", "", SECRET]);
  assert.equal(r.skipped, 2);
  assert.equal(r.redactText("abc " + SECRET), "abc ***");
  const none = new Redactor(["ab"]);
  assert.ok(none.empty);
  const bin = Buffer.from([0, 255, 10, 13, 0x80]);
  assert.deepEqual(none.redactBytes(bin), bin);
  assert.deepEqual(await viaStream(none, [bin, bin]), Buffer.concat([bin, bin]));
});

test("streaming: the secret split at every boundary (2 and 3 chunks, 1-byte chunks) is always redacted", async () => {
  const r = new Redactor([SECRET]);
  const input = Buffer.from(`head-${SECRET}-mid-${SECRET}${SECRET}-tail`);
  const want = Buffer.from("head-***-mid-***-tail");
  assert.deepEqual(r.redactBytes(input), want);
  for (let i = 0; i <= input.length; i++) assert.deepEqual(await viaStream(r, split(input, [i])), want, `cut ${i}`);
  for (let i = 0; i <= input.length; i += 1) {
    for (let j = i; j <= input.length; j += 3) assert.deepEqual(await viaStream(r, split(input, [i, j])), want, `cuts ${i},${j}`);
  }
  const bytes = [...input].map((b) => Buffer.from([b]));
  assert.deepEqual(await viaStream(r, bytes), want);
  assert.deepEqual(await viaStream(r, [Buffer.alloc(0), input, Buffer.alloc(0)]), want);
});

test("streaming: non-secret bytes pass byte-exact, including binary and near-misses", async () => {
  const rnd = prng(7);
  const bin = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(rnd() * 256)));
  const nearMiss = Buffer.from(SECRET.slice(0, -1) + "_" + SECRET.slice(1));
  const input = Buffer.concat([bin, nearMiss, Buffer.from(SECRET), bin]);
  const r = new Redactor([SECRET]);
  const out = await viaStream(r, split(input, [1, 2, 3, 777, 4999, 5000, 5001, 5040, 6000]));
  assert.deepEqual(out, Buffer.concat([bin, nearMiss, Buffer.from(REDACTED), bin]));
  assert.equal(out.length, input.length - SECRET.length + REDACTED.length);
});

test("multiple secrets with overlapping prefixes and overlapping occurrences merge into one marker", async () => {
  const secrets = ["abcdef12", "abcdXYZW", "cdef1234", "1234"];
  const r = new Redactor(secrets);
  const cases: Array<[string, string]> = [
    ["..abcdef1234..", "..***.."], // abcdef12 and cdef1234 overlap
    ["..abcdXYZW..abcdef..", "..***..abcdef.."],
    ["abcdef12abcdXYZW", "***"], // adjacent occurrences: one run
    ["abcdabcdXYZW", "abcd***"],
    ["12341234", "***"],
    ["123", "123"],
  ];
  for (const [text, want] of cases) {
    assert.equal(r.redactText(text), want, text);
    const input = Buffer.from(text);
    for (let i = 0; i <= input.length; i++) assert.equal((await viaStream(r, split(input, [i]))).toString(), want, `${text} @${i}`);
  }
});

test("memory stays bounded and output flows on a long stream", async () => {
  const r = new Redactor([SECRET, "another-secret-value"]);
  const s = r.stream();
  let received = 0;
  let written = 0;
  s.on("data", (d: Buffer) => (received += d.length));
  const chunk = Buffer.alloc(64 * 1024, "x");
  const withSecret = Buffer.concat([chunk.subarray(0, 1000), Buffer.from(SECRET), chunk.subarray(0, 1000)]);
  for (let i = 0; i < 320; i++) {
    const c = i % 10 === 0 ? withSecret : chunk;
    written += c.length;
    if (!s.write(c)) await once(s, "drain");
    assert.ok(s.buffered <= r.maxPatternLength - 1);
  }
  await new Promise((res) => setImmediate(res));
  assert.ok(received >= written - 32 * SECRET.length * 2 - r.maxPatternLength, "output is not held until the end");
  s.end();
  await once(s, "end");
  assert.equal(received, written - 32 * (SECRET.length - REDACTED.length));
});

test("createRedactStream works as a plain Transform", async () => {
  const s = createRedactStream([SECRET]);
  const out: Buffer[] = [];
  s.on("data", (d: Buffer) => out.push(d));
  s.write(SECRET.slice(0, 5));
  s.write(SECRET.slice(5) + "!");
  s.end();
  await once(s, "end");
  assert.equal(Buffer.concat(out).toString(), "***!");
});

test("fuzz (seeded): streaming == one-shot == independent oracle, any chunking", async () => {
  const rnd = prng(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const word = (alphabet: string, min: number, max: number) =>
    Array.from({ length: min + Math.floor(rnd() * (max - min + 1)) }, () => pick([...alphabet])).join("");
  for (let iter = 0; iter < 400; iter++) {
    const alphabet = pick(["ab", "abc", "ab+/=%", "xyz01"]);
    const secrets = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => word(alphabet, 3, 9));
    const parts: Buffer[] = [];
    const n = Math.floor(rnd() * 12);
    for (let i = 0; i < n; i++) {
      const roll = rnd();
      if (roll < 0.3) parts.push(Buffer.from(pick(secrets)));
      else if (roll < 0.4) {
        const enc = secretEncodings(pick(secrets));
        if (enc.length > 0) parts.push(pick(enc));
      } else if (roll < 0.5) parts.push(Buffer.from(Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 256))));
      else parts.push(Buffer.from(word(alphabet + "d", 0, 15)));
    }
    const input = Buffer.concat(parts);
    const r = new Redactor(secrets);
    const want = oracle(input, secrets);
    assert.deepEqual(r.redactBytes(input), want, `iter ${iter} one-shot ${JSON.stringify(secrets)} ${input.toString("latin1")}`);
    const cuts: number[] = [];
    for (let p = 0; p < input.length; p += 1 + Math.floor(rnd() * (rnd() < 0.5 ? 3 : 40))) cuts.push(p);
    assert.deepEqual(await viaStream(r, split(input, cuts)), want, `iter ${iter} stream ${JSON.stringify(secrets)} cuts ${cuts}`);
  }
});
