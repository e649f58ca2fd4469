/**
 * Bounded, deterministic fuzzing of parseHcl: random byte strings and
 * mutations (byte flips, insertions, deletions, line splices) of the compat
 * corpus. Asserts the parser never throws, always returns a body with sane
 * ranges, and finishes each input within a time bound.
 *
 * Reproduce a failure with the printed seed: HCL_FUZZ_SEED=<seed> (the index
 * and the input are printed too). HCL_FUZZ_ROUNDS scales the number of inputs
 * for a longer local run.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { INTERNAL_ERROR_SUMMARY, parseHcl } from "./index.js";
import { compatFiles } from "./test-helpers.js";
import { prng } from "../../testing/prng.js";

const SEED = Number(process.env.HCL_FUZZ_SEED ?? 20240611) >>> 0;
const ROUNDS = Math.max(1, Number(process.env.HCL_FUZZ_ROUNDS ?? 1));
/** Generous: the slowest honest input (the 1,100-line full.hcl) takes a few ms. */
const PER_INPUT_MS = 250;


/** Fragments that exercise the interesting lexer/parser paths. */
const SNIPPETS = [
  "{", "}", "[", "]", "(", ")", '"', "'", "=", ",", ":", ".", "\n", "\r\n", "\t", " ", "#", "//", "/*", "*/",
  "${", "$${", "%{", "%%{", "\\", "\\u", "\\U0001F600", "<<EOT\n", "<<-EOT\n", "\nEOT\n", "  EOT", "<<",
  "-", "!", "?", "=>", "...", "*", "[*]", ".*", "for x in y :", "if", "true", "null", "1e", "0.5", "a.b-c",
  "x = ", 'blk "l" { a = 1 }\n', "\ufeff", "\u00a0", "\u{1F600}", "\ud800", ";", "@", "&", "|",
];
const SIGNIFICANT = '{}[]()"=,:.\n#/*$%\\<-!?\' \tabcxyz019';

function randomBytes(rand: () => number): Buffer {
  const len = Math.floor(rand() * 200);
  const out = Buffer.alloc(len);
  const biased = rand() < 0.6;
  for (let i = 0; i < len; i++) {
    out[i] = biased && rand() < 0.8 ? SIGNIFICANT.charCodeAt(Math.floor(rand() * SIGNIFICANT.length)) : Math.floor(rand() * 256);
  }
  return out;
}

function mutate(rand: () => number, src: string, corpus: string[]): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  let bytes = Buffer.from(src, "utf8");
  const rounds = 1 + Math.floor(rand() * 6);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: // byte flip
        if (bytes.length > 0) {
          const i = Math.min(at, bytes.length - 1);
          bytes[i] = rand() < 0.5 ? (bytes[i] ?? 0) ^ (1 << Math.floor(rand() * 8)) : SIGNIFICANT.charCodeAt(Math.floor(rand() * SIGNIFICANT.length));
        }
        break;
      case 1: // insertion
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(SNIPPETS), "utf8"), bytes.subarray(at)]);
        break;
      case 2: // deletion
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + Math.floor(rand() * 40))]);
        break;
      case 3: {
        // splice: lines from another corpus file into a random line position
        const lines = bytes.toString("utf8").split("\n");
        const other = pick(corpus).split("\n");
        const from = Math.floor(rand() * other.length);
        const chunk = other.slice(from, from + 1 + Math.floor(rand() * 8));
        lines.splice(Math.floor(rand() * (lines.length + 1)), Math.floor(rand() * 3), ...chunk);
        bytes = Buffer.from(lines.join("\n"), "utf8");
        break;
      }
      case 4: {
        // duplicate or drop a run of lines
        const lines = bytes.toString("utf8").split("\n");
        const i = Math.floor(rand() * lines.length);
        const n = 1 + Math.floor(rand() * 5);
        if (rand() < 0.5) lines.splice(i, 0, ...lines.slice(i, i + n));
        else lines.splice(i, n);
        bytes = Buffer.from(lines.join("\n"), "utf8");
        break;
      }
      default: // truncation
        bytes = bytes.subarray(0, at);
    }
  }
  return bytes.toString("utf8");
}

/** Checks every range in the result: positions in bounds and ordered. */
function checkRanges(node: unknown, len: number, path: string, fail: (msg: string) => never): void {
  const stack: [unknown, string][] = [[node, path]];
  while (stack.length > 0) {
    const [n, p] = stack.pop() as [unknown, string];
    if (!n || typeof n !== "object") continue;
    const o = n as Record<string, unknown>;
    if ("start" in o && "end" in o && "file" in o) {
      const s = o.start as { line: number; col: number; offset: number };
      const e = o.end as { line: number; col: number; offset: number };
      const ok =
        s.line >= 1 && s.col >= 1 && e.line >= 1 && e.col >= 1 &&
        s.offset >= 0 && e.offset <= len && s.offset <= e.offset &&
        (s.line < e.line || (s.line === e.line && s.col <= e.col));
      if (!ok) fail(`bad range at ${p}: ${JSON.stringify(o)}`);
      continue;
    }
    for (const [k, v] of Object.entries(o)) if (k !== "source") stack.push([v, `${p}.${k}`]);
  }
}

function runOne(input: string, label: string): number {
  const fail = (msg: string): never => {
    assert.fail(`${msg}\n  seed=${SEED} input=${label}\n  reproduce: HCL_FUZZ_SEED=${SEED}\n  input text: ${JSON.stringify(input)}`);
  };
  const t0 = performance.now();
  let res: ReturnType<typeof parseHcl> | undefined;
  try {
    res = parseHcl(input, "fuzz.hcl");
  } catch (e) {
    fail(`parseHcl threw: ${e instanceof Error ? e.stack : String(e)}`);
  }
  const ms = performance.now() - t0;
  if (!res) return fail("parseHcl returned nothing");
  if (ms > PER_INPUT_MS) fail(`parse took ${ms.toFixed(0)} ms (bound ${PER_INPUT_MS} ms)`);
  if (!res.parsed.body || !Array.isArray(res.parsed.body.attributes) || !Array.isArray(res.parsed.body.blocks)) {
    fail("result has no body");
  }
  for (const d of res.diagnostics) {
    if (d.summary === INTERNAL_ERROR_SUMMARY) fail(`internal error: ${d.detail ?? ""}`);
    if (!d.range) fail(`diagnostic without range: ${d.summary}`);
  }
  checkRanges(res.diagnostics, input.length, "diagnostics", fail);
  checkRanges(res.parsed.body, input.length, "body", fail);
  return ms;
}

describe("fuzz", () => {
  const corpus = compatFiles().map((f) => readFileSync(f, "utf8"));

  it(`random byte strings never break the parser (seed ${SEED})`, () => {
    const rand = prng(SEED);
    for (let i = 0; i < 1500 * ROUNDS; i++) {
      const bytes = randomBytes(rand);
      runOne(bytes.toString("latin1"), `random#${i}/latin1`);
      runOne(bytes.toString("utf8"), `random#${i}/utf8`);
    }
  });

  it(`mutated corpus files never break the parser (seed ${SEED})`, () => {
    const rand = prng(SEED ^ 0x5eed);
    let total = 0;
    let worst = 0;
    const n = 1500 * ROUNDS;
    for (let i = 0; i < n; i++) {
      const base = corpus[Math.floor(rand() * corpus.length)] ?? "";
      const ms = runOne(mutate(rand, base, corpus), `mutation#${i}`);
      total += ms;
      worst = Math.max(worst, ms);
    }
    console.log(`# fuzz: ${n} mutated inputs, ${total.toFixed(0)} ms total, worst ${worst.toFixed(1)} ms`);
  });

  it("pathological shapes stay fast", () => {
    const big = 20000;
    const shapes = [
      "a = " + "[".repeat(big),
      "a = " + "{".repeat(big),
      "{".repeat(big),
      "}".repeat(big),
      '"'.repeat(big),
      "a = \"" + "${".repeat(big),
      "a = <<EOT\n" + "x\n".repeat(big),
      "<<EOT\n".repeat(big),
      "/*".repeat(big),
      "a = " + "(".repeat(big) + ")".repeat(big),
      "a = " + "1 + ".repeat(big) + "1\n",
      "a = " + "x ? ".repeat(big) + "\n",
      'b "l" '.repeat(big) + "{\n",
      "a = 1\n".repeat(big),
      "@".repeat(big),
      "\u{1F600}".repeat(big) + "\n" + "x = \u{1F600}\n".repeat(2000),
    ];
    for (const [i, s] of shapes.entries()) runOne(s, `shape#${i}`);
  });
});
