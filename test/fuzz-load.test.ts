/**
 * Bounded fuzz of the whole config pipeline (parse → decode → resolve →
 * compile, CEL included): mutated reference configs and random rule
 * conditions must only ever produce diagnostics or a policy — never an
 * exception, never a hang. Seeded; set CLAWPATROL_FUZZ_SEED to reproduce.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadPolicy } from "../src/config/policy.js";
import { memIO } from "../src/config/testing.js";
import { compileCondition } from "../src/policy/cel/compile.js";
import { prng } from "../src/testing/prng.js";

const COMPAT = process.env.CLAWPATROL_COMPAT_DIR ?? join(process.cwd(), "..", "shared", "compat", "clawpatrol");
const SEED = Number(process.env.CLAWPATROL_FUZZ_SEED ?? 4242);
const BUDGET_MS = 3000;


const TOKENS = [
  "{", "}", "[", "]", "(", ")", "=", ",", ".", "\n", '"', "'", "#", "//", "/*", "*/", "<<-EOT\n", "EOT\n",
  "rule", "endpoint", "credential", "profile", "gateway", "https.github", "bearer_token.x", "-", "1e309",
  "${x}", "$${", "%{", "\\u00", "\u0000", "\u{1F600}", "condition", "\"http.method == 'GET'\"", "approve", "verdict",
];

function mutate(text: string, rnd: () => number): string {
  let s = text;
  const n = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const op = rnd();
    if (op < 0.35) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 20));
    else if (op < 0.7) s = s.slice(0, at) + TOKENS[Math.floor(rnd() * TOKENS.length)] + s.slice(at);
    else if (op < 0.85) {
      const lines = s.split("\n");
      const a = Math.floor(rnd() * lines.length);
      const b = Math.floor(rnd() * lines.length);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      s = lines.join("\n");
    } else s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x3000)) + s.slice(at);
  }
  return s;
}

const CEL_ATOMS = [
  "http.method", "http.path", "http.headers", "http.query", "http.body", "http.body_json.x", "'POST'", "'a'",
  "1", "-1", "2.5", "true", "null", "[", "]", "(", ")", "==", "!=", "&&", "||", "!", "in", "?", ":", ".",
  "startsWith(", "matches(", "'(?i)x'", "'(a)\\\\1'", "size(", "has(", "exists(x,", "sets.intersects(",
  ",", "op.class", "now.hour", "agent.profile", "sql.verb", "+", "*", "{", "}", "'\\u'", "b'x'", "1u",
];

describe("fuzz: config pipeline never throws", { skip: !existsSync(COMPAT) && !process.env.CI }, () => {
  it(`mutated reference configs (seed ${SEED})`, () => {
    const corpus = ["examples", "config-testdata", "test-fixtures"].flatMap((d) =>
      readdirSync(join(COMPAT, d))
        .filter((n) => n.endsWith(".hcl"))
        .map((n) => readFileSync(join(COMPAT, d, n), "utf8")),
    );
    assert.ok(corpus.length > 10);
    const rnd = prng(SEED);
    const start = Date.now();
    let runs = 0;
    while (Date.now() - start < BUDGET_MS) {
      const input = mutate(corpus[Math.floor(rnd() * corpus.length)]!, rnd);
      const t0 = Date.now();
      try {
        const r = loadPolicy("f/gateway.hcl", memIO({ "f/gateway.hcl": input }));
        assert.ok(r.policy !== undefined || r.diagnostics.some((d) => d.severity === "error"));
      } catch (e) {
        assert.fail(`seed ${SEED} run ${runs} threw: ${(e as Error).stack}\n--- input ---\n${input}`);
      }
      assert.ok(Date.now() - t0 < 2000, `seed ${SEED} run ${runs} took ${Date.now() - t0} ms`);
      runs++;
    }
    assert.ok(runs > 50, `only ${runs} runs`);
  });

  it(`random CEL conditions (seed ${SEED})`, () => {
    const rnd = prng(SEED + 1);
    const start = Date.now();
    let runs = 0;
    let compiled = 0;
    while (Date.now() - start < 1500) {
      const n = 1 + Math.floor(rnd() * 12);
      const src = Array.from({ length: n }, () => CEL_ATOMS[Math.floor(rnd() * CEL_ATOMS.length)]).join(" ");
      try {
        const r = compileCondition(src, "http");
        if (r.ok) compiled++;
      } catch (e) {
        assert.fail(`seed ${SEED} threw on ${JSON.stringify(src)}: ${(e as Error).stack}`);
      }
      runs++;
    }
    assert.ok(runs > 500 && compiled > 0, `${runs} runs, ${compiled} compiled`);
  });
});
