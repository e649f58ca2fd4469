import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  OP_CLASS_ORDER,
  STATEMENT_VERBS,
  VERB_OP_CLASS,
  analyzeSql,
  initSqlAnalyzer,
  verbForStatementNode,
  type SqlStatementAnalysis,
} from "./analyze.js";
import {
  COPY,
  DDL,
  GRANTS,
  LOOKS_DANGEROUS,
  READS,
  SESSION,
  SHADOWS,
  SINGLE_CASES,
  WRITES,
  type Case,
} from "./analyze.cases.js";

before(async () => {
  await initSqlAnalyzer();
});

function one(sql: string): SqlStatementAnalysis {
  const r = analyzeSql(sql);
  if (!r.ok) assert.fail(`expected ${JSON.stringify(sql)} to parse, got: ${r.error}`);
  assert.equal(r.statements.length, 1, `expected one statement in ${JSON.stringify(sql)}`);
  return r.statements[0]!;
}

function check(c: Case): void {
  const [sql, verb, verbs, tables, functions, opClass] = c;
  const s = one(sql);
  const got = { verb: s.verb, verbs: s.verbs, tables: s.tables, functions: s.functions, opClass: s.opClass };
  assert.deepEqual(got, { verb, verbs, tables, functions, opClass }, `for ${JSON.stringify(sql)}`);
}

describe("analyzeSql: statement table", () => {
  for (const [group, cases] of [
    ["reads", READS],
    ["statements that only look dangerous", LOOKS_DANGEROUS],
    ["writes", WRITES],
    ["COPY", COPY],
    ["shadow statements", SHADOWS],
    ["DDL and exec", DDL],
    ["GRANT / REVOKE", GRANTS],
    ["transactions, session, cursors", SESSION],
  ] as const) {
    describe(group, () => {
      for (const c of cases) it(c[0].length > 90 ? `${c[0].slice(0, 87)}...` : c[0], () => check(c));
    });
  }

  it("has at least 60 statements", () => {
    assert.ok(SINGLE_CASES.length >= 60, `only ${SINGLE_CASES.length}`);
  });

  it("every verb is in verbs and every class is a known class", () => {
    for (const [sql] of SINGLE_CASES) {
      const s = one(sql);
      assert.ok(s.verbs.includes(s.verb), sql);
      assert.ok(OP_CLASS_ORDER.includes(s.opClass), sql);
    }
  });
});

describe("analyzeSql: multi-statement input", () => {
  it("splits statements in order with their own text", () => {
    const r = analyzeSql("select 1; drop table x");
    assert.ok(r.ok);
    assert.deepEqual(
      r.statements.map((s) => [s.verb, s.opClass, s.statement, s.tables]),
      [
        ["select", "read", "select 1", []],
        ["drop", "delete", "drop table x", ["x"]],
      ],
    );
  });

  it("handles trailing semicolons, empty statements and transaction blocks", () => {
    const r = analyzeSql("begin;; delete from t where id = 1;\n commit;");
    assert.ok(r.ok);
    assert.deepEqual(
      r.statements.map((s) => [s.verb, s.statement]),
      [
        ["begin", "begin"],
        ["delete", "delete from t where id = 1"],
        ["commit", "commit"],
      ],
    );
  });

  it("slices statement text by byte offsets when the text is not ASCII", () => {
    const r = analyzeSql("select 'é', '日本' as x; delete from \"Tü\"; select '😀'");
    assert.ok(r.ok);
    assert.deepEqual(
      r.statements.map((s) => [s.verb, s.statement, s.tables]),
      [
        ["select", "select 'é', '日本' as x", []],
        ["delete", 'delete from "Tü"', ["Tü"]],
        ["select", "select '😀'", []],
      ],
    );
  });

  it("a statement hidden after a comment or string is still its own statement", () => {
    const r = analyzeSql("select '--'; -- comment\ntruncate t");
    assert.ok(r.ok);
    assert.deepEqual(r.statements.map((s) => s.verb), ["select", "truncate"]);
  });
});

describe("initSqlAnalyzer", () => {
  it("is idempotent", async () => {
    await Promise.all([initSqlAnalyzer(), initSqlAnalyzer()]);
    await initSqlAnalyzer();
    assert.equal(one("select 1").verb, "select");
  });
});

describe("analyzeSql: empty input and refusals", () => {
  it("whitespace and comments only yield no statements", () => {
    for (const sql of ["", "   ", "\n\t", "-- just a comment", "/* c */", ";", " ; ; "]) {
      assert.deepEqual(analyzeSql(sql), { ok: true, statements: [] }, JSON.stringify(sql));
    }
  });

  it("refuses what the parser refuses", () => {
    for (const sql of ["selec 1", "select (", "drop table", "select 1; drop", "delete from t where", "$$"]) {
      const r = analyzeSql(sql);
      assert.equal(r.ok, false, JSON.stringify(sql));
      if (!r.ok) assert.ok(r.error.length > 0);
    }
  });

  it("refuses NUL bytes (they would hide the rest of the text from the parser)", () => {
    const r = analyzeSql("select 1\0; drop table x");
    assert.equal(r.ok, false);
  });

  it("refuses unpaired surrogates", () => {
    assert.equal(analyzeSql("select '\uD800'").ok, false);
  });

  it("refuses non-strings without throwing", () => {
    assert.equal(analyzeSql(undefined as unknown as string).ok, false);
    assert.equal(analyzeSql(42 as unknown as string).ok, false);
  });

  it("survives a 1 MiB statement", () => {
    const big = `select '${"x".repeat(1 << 20)}' from t`;
    const r = analyzeSql(big);
    assert.ok(r.ok);
    assert.equal(r.statements[0]!.verb, "select");
    const cols = `select ${Array.from({ length: 20_000 }, (_, i) => `c${i}`).join(", ")} from t`;
    assert.ok(analyzeSql(cols).ok);
  });

  it("survives 5,000 nested parentheses and deep nesting (ok or refusal, never a crash)", () => {
    const parens = analyzeSql(`select ${"(".repeat(5000)}1${")".repeat(5000)}`);
    assert.equal(typeof parens.ok, "boolean");
    const subq = analyzeSql(`select * from ${"(select * from ".repeat(5000)}t${") x".repeat(5000)}`);
    assert.equal(subq.ok, false);
    const deepExpr = analyzeSql(`select ${Array.from({ length: 100_000 }, (_, i) => i).join("+")}`);
    assert.equal(deepExpr.ok, false);
    const unbalanced = analyzeSql(`select ${"(".repeat(100_000)}`);
    assert.equal(unbalanced.ok, false);
    // The parser is still healthy afterwards.
    assert.equal(one("select 1").verb, "select");
  });
});

describe("verb table", () => {
  it("every statement verb has an op class", () => {
    for (const [node, verb] of Object.entries(STATEMENT_VERBS)) {
      assert.ok(VERB_OP_CLASS[verb] !== undefined, `${node} → ${verb} has no class`);
    }
  });

  it("unknown statement nodes get a derived verb and at least admin", () => {
    assert.deepEqual(verbForStatementNode("FrobnicateWidgetStmt"), { verb: "frobnicate", opClass: "admin", known: false });
    assert.deepEqual(verbForStatementNode("CreateWidgetStmt"), { verb: "create", opClass: "admin", known: false });
    assert.deepEqual(verbForStatementNode("SelectWidgetStmt"), { verb: "select", opClass: "admin", known: false });
    assert.equal(verbForStatementNode("CallWidgetStmt").opClass, "exec");
  });

  it("covers every statement node of the installed parser's AST types", (t) => {
    // @pgsql/types is libpg-query's own type package (a transitive dependency):
    // when present, its Node union is the authoritative list of node names.
    let dts: string;
    try {
      const req = createRequire(import.meta.url);
      const pkg = req.resolve("@pgsql/types/package.json");
      dts = readFileSync(pkg.replace(/package\.json$/, "types.d.ts"), "utf8");
    } catch {
      t.skip("@pgsql/types not resolvable");
      return;
    }
    const start = dts.indexOf("export type Node =");
    const union = dts.slice(start, dts.indexOf("\nexport ", start + 1));
    const stmtNodes = [...union.matchAll(/^\s+([A-Za-z_]+Stmt):/gm)].map((m) => m[1]!);
    assert.ok(stmtNodes.length > 100, `found only ${stmtNodes.length} statement nodes`);
    const notStatements = new Set(["RawStmt"]);
    const missing = stmtNodes.filter((n) => !notStatements.has(n) && STATEMENT_VERBS[n] === undefined);
    assert.deepEqual(missing, []);
  });
});
