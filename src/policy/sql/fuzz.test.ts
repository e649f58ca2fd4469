/**
 * Bounded fuzz test of the SQL analyzer: random strings, mutations of the
 * table test's statements, and random token soup (also inside DO bodies, to
 * exercise the PL/pgSQL path). Whatever the input, analyzeSql must return a
 * well-formed result and never throw. Deterministic (seeded PRNG); each phase
 * stops after its time budget, so the whole file stays under ~3 s.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { OP_CLASS_ORDER, analyzeSql, initSqlAnalyzer, type SqlAnalysis } from "./analyze.js";
import { SINGLE_CASES } from "./analyze.cases.js";
import { prng } from "../../testing/prng.js";

before(async () => {
  await initSqlAnalyzer();
});

const SEED = 0x5eed_c1a5;
const PHASE_BUDGET_MS = 700;
const MAX_ITERATIONS = 50_000;


const TOKENS = [
  "select", "insert", "update", "delete", "merge", "into", "from", "where", "with", "as", "recursive",
  "values", "table", "returning", "explain", "analyze", "(analyze)", "(analyze off)", "prepare", "execute",
  "do", "language", "plpgsql", "begin", "end", "commit", "rollback", "copy", "to", "program", "stdin",
  "stdout", "create", "drop", "alter", "grant", "revoke", "truncate", "call", "set", "role", "union",
  "join", "on", "using", "matched", "then", "not", "null", "and", "or", "t", "users", "s.t", "\"Q\"",
  "f()", "count(*)", "$1", "1", "0.5", "'x'", "''", "'", "\"", "$$", "$q$", "E'\\''", "--", "/*", "*/",
  ";", ",", "(", ")", "[", "]", "::", ":=", "=", "*", ".", "||", "\n", " ", "é", "😀", "\\", "%",
];

const CHARS = " \t\n;,()[]'\"$-*/\\=:.|%abcdefstuvwxyzSELCTDROP0123456789_é日😀\u00a0";

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function randomString(rnd: () => number): string {
  const len = Math.floor(rnd() * 120);
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = rnd();
    if (r < 0.02) s += String.fromCharCode(Math.floor(rnd() * 32)); // control characters, NUL included
    else if (r < 0.04) s += String.fromCharCode(0xd800 + Math.floor(rnd() * 0x800)); // stray surrogates
    else s += pick(rnd, [...CHARS]);
  }
  return s;
}

function tokenSoup(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 30);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pick(rnd, TOKENS));
  return parts.join(rnd() < 0.8 ? " " : "");
}

function mutate(rnd: () => number, sql: string): string {
  let s = sql;
  const ops = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < ops; k++) {
    const i = Math.floor(rnd() * (s.length + 1));
    const j = Math.min(s.length, i + Math.floor(rnd() * 12));
    switch (Math.floor(rnd() * 7)) {
      case 0: // delete a span
        s = s.slice(0, i) + s.slice(j);
        break;
      case 1: // insert a token
        s = `${s.slice(0, i)} ${pick(rnd, TOKENS)} ${s.slice(i)}`;
        break;
      case 2: // insert a character
        s = s.slice(0, i) + pick(rnd, [...CHARS]) + s.slice(i);
        break;
      case 3: // duplicate a span
        s = s.slice(0, j) + s.slice(i, j) + s.slice(j);
        break;
      case 4: // truncate
        s = s.slice(0, i);
        break;
      case 5: // splice with another statement
        s = `${s.slice(0, i)}${rnd() < 0.5 ? ";" : " "}${pick(rnd, SINGLE_CASES)[0]}`;
        break;
      default: // wrap
        s = rnd() < 0.5 ? `explain analyze ${s}` : `with x as (${s}) select * from x`;
    }
  }
  return s;
}

function assertWellFormed(input: string, r: SqlAnalysis, where: string): void {
  const show = () => `${where}: input ${JSON.stringify(input.length > 2000 ? `${input.slice(0, 2000)}…` : input)}`;
  assert.equal(typeof r, "object", show());
  if (r.ok === false) {
    assert.equal(typeof r.error, "string", show());
    assert.ok(r.error.length > 0, show());
    return;
  }
  assert.equal(r.ok, true, show());
  assert.ok(Array.isArray(r.statements), show());
  for (const s of r.statements) {
    assert.ok(typeof s.verb === "string" && s.verb.length > 0, `empty verb; ${show()}`);
    assert.ok(s.verbs.includes(s.verb), `verb not in verbs; ${show()}`);
    assert.ok(OP_CLASS_ORDER.includes(s.opClass), `bad opClass; ${show()}`);
    assert.equal(typeof s.statement, "string", show());
    for (const list of [s.verbs, s.tables, s.functions]) {
      assert.ok(Array.isArray(list) && list.every((x) => typeof x === "string"), show());
      assert.equal(new Set(list).size, list.length, `duplicates; ${show()}`);
    }
  }
}

/**
 * Run `fn` while watching stderr for the WASM runtime's "Aborted(" report: a
 * C assertion inside libpg-query does not surface as an exception (the
 * analyzer would swallow it as an unparseable body), so it is caught here.
 */
function watchingAborts<T>(fn: (aborted: () => string | null) => T): T {
  const write = process.stderr.write;
  let seen: string | null = null;
  process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : "";
    if (seen === null && text.includes("Aborted(")) seen = text.trim();
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stderr.write;
  try {
    return fn(() => seen);
  } finally {
    process.stderr.write = write;
  }
}

function runPhase(name: string, seed: number, gen: (rnd: () => number) => string): number {
  const rnd = prng(seed);
  const deadline = Date.now() + PHASE_BUDGET_MS;
  return watchingAborts((aborted) => {
    let n = 0;
    while (n < MAX_ITERATIONS && (n % 64 !== 0 || Date.now() < deadline)) {
      const input = gen(rnd);
      let r: SqlAnalysis;
      try {
        r = analyzeSql(input);
      } catch (e) {
        assert.fail(`${name} #${n}: analyzeSql threw ${String(e)} for input ${JSON.stringify(input)}`);
      }
      const abort = aborted();
      if (abort !== null) assert.fail(`${name} #${n}: the parser aborted (${abort}) for input ${JSON.stringify(input)}`);
      assertWellFormed(input, r, `${name} #${n}`);
      n++;
    }
    return n;
  });
}

describe("analyzeSql fuzz (bounded, seeded)", () => {
  it("random strings", () => {
    const n = runPhase("random", SEED, randomString);
    console.log(`fuzz: ${n} random strings`);
  });

  it("mutations of the table's statements", () => {
    const n = runPhase("mutation", SEED + 1, (rnd) => mutate(rnd, pick(rnd, SINGLE_CASES)[0]));
    console.log(`fuzz: ${n} mutated statements`);
  });

  it("token soup, bare and inside DO bodies", () => {
    const n = runPhase("soup", SEED + 2, (rnd) => {
      const soup = tokenSoup(rnd);
      const r = rnd();
      if (r < 0.25) return `do $body$ begin ${soup}; end $body$`;
      if (r < 0.35) return `do $body$ begin execute '${soup.replace(/'/g, "''")}'; end $body$`;
      if (r < 0.45) return `create function f() returns void language plpgsql as $body$ begin ${soup}; end $body$`;
      return soup;
    });
    console.log(`fuzz: ${n} token soups`);
  });

  it("PL/pgSQL edge cases never reach a parser assertion", () => {
    const inputs = [
      "do language plpgsql",
      "do language plperl",
      "do 'begin end' language plpgsql",
      "do $$ $$",
      "do ''",
      "create function f() returns int language plpgsql",
      "create function f() returns int language plpgsql as 'a', 'b'",
      "create function f(out a int) returns setof record language plpgsql as $$ begin return next; end $$",
      "create procedure p() language plpgsql begin atomic select 1; end",
      "create function f() returns int begin atomic select 1; end",
      "do $$ begin execute 'do language plpgsql'; end $$",
      "do $$ declare x int; begin x := ; end $$",
      "do $$ declare x int[]; begin x[(select 1)] := 2; x = 3; end $$",
    ];
    watchingAborts((aborted) => {
      for (const input of inputs) {
        assertWellFormed(input, analyzeSql(input), "edge");
        assert.equal(aborted(), null, `the parser aborted for ${JSON.stringify(input)}`);
      }
    });
  });

  it("the analyzer still works after the fuzzing", () => {
    const r = analyzeSql("delete from t");
    assert.ok(r.ok && r.statements[0]?.verb === "delete");
  });
});
