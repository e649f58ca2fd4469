import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Family, UnknownCause } from "../action.js";
import { celValue } from "./env.js";
import { compileCondition, type Activation, type CompiledCondition, type ConditionResult } from "./compile.js";

function compile(src: string, family: Family = "http"): CompiledCondition {
  const r = compileCondition(src, family);
  if (!r.ok) assert.fail(`expected ${JSON.stringify(src)} to compile, got:\n${r.error.message}`);
  return r.condition;
}

function compileError(src: string, family: Family = "http"): string {
  const r = compileCondition(src, family);
  assert.equal(r.ok, false, `expected ${JSON.stringify(src)} to fail to compile`);
  return r.ok ? "" : r.error.message;
}

const baseHttp: {
  method: string;
  path: string;
  query: Record<string, string[]>;
  headers: Record<string, string[]>;
  body: string;
  body_json: unknown;
} = {
  method: "get",
  path: "/v1/pages/1",
  query: { per_page: ["100"] },
  headers: { "Content-Type": ["application/json"] },
  body: '{"archived":true}',
  body_json: { archived: true },
};

function httpAct(over: Partial<typeof baseHttp> = {}): Activation {
  return {
    http: celValue("http", { ...baseHttp, ...over }),
    op: celValue("op", { class: "read" }),
    agent: celValue("agent", { device: "laptop-1", profile: "default" }),
    now: celValue("now", { year: 2026n, month: 11n, day: 22n, hour: 14n, minute: 5n, weekday: "sunday", date: "2026-11-22", time: "14:05" }),
  };
}

function sqlAct(over: Record<string, unknown> = {}): Activation {
  return {
    sql: celValue("sql", {
      verb: "select",
      verbs: ["select"],
      tables: ["users"],
      functions: [],
      statement: "SELECT * FROM users",
      database: "dev",
      ...over,
    }),
    op: celValue("op", { class: "read" }),
    agent: celValue("agent", { device: "d", profile: "p" }),
    now: celValue("now", { year: 2026n, month: 1n, day: 1n, hour: 3n, minute: 0n, weekday: "thursday", date: "2026-01-01", time: "03:00" }),
  };
}

const unknown = (...paths: string[]): Map<string, UnknownCause> =>
  new Map(paths.map((p) => [p, "unparseable" as UnknownCause]));

function isUnevaluable(r: ConditionResult): boolean {
  return typeof r === "object" && r.unevaluable;
}

describe("CEL compile: type checking", () => {
  it("rejects a variable from another family with a pointed message", () => {
    const msg = compileError("sql.verb == 'select'", "http");
    assert.match(msg, /undeclared reference to 'sql'/);
    assert.match(msg, /http family/);
    assert.match(msg, /<input>:1:1:/);
  });
  it("rejects wrong types", () => {
    assert.match(compileError("http.method == 1"), /no such overload/);
    assert.match(compileError("ssh.forward_port == '22'", "ssh"), /no such overload/);
  });
  it("rejects unknown functions and fields", () => {
    assert.match(compileError("http.method.shout()"), /overload/);
    assert.match(compileError("http.nope == 'x'"), /nope/);
    assert.match(compileError("frobnicate(http.path)"), /frobnicate/);
  });
  it("reports syntax errors with a caret at the right column", () => {
    const msg = compileError("http.method == 'GET");
    assert.match(msg, /^ERROR: <input>:1:16: Syntax error/);
    assert.match(msg, /\n \| http\.method == 'GET\n \| \.{15}\^/);
  });
  it("requires a boolean condition", () => {
    assert.match(compileError("http.path"), /boolean/);
  });
  it("accepts every family's documented variables and the context variables", () => {
    compile("http.method == 'get' && http.headers['X-A'][0] == 'b' && 'per_page' in http.query && size(http.body) > 0");
    compile("k8s.verb == 'get' && k8s.params.stdin == 'true' && k8s.resource.endsWith('/exec') && k8s.group == ''", "k8s");
    compile("sql.verb == 'select' && 'users' in sql.tables && sql.functions.exists(f, f.startsWith('pg_')) && sql.database == 'x' && 'drop' in sql.verbs", "sql");
    compile("ssh.verb == 'forward' && ssh.forward_port == 5432 && ssh.stdin.contains('rm')", "ssh");
    for (const f of ["http", "k8s", "sql", "ssh"] as const) {
      compile("op.class == 'read' && agent.profile == 'x' && agent.device != '' && now.hour >= 9 && now.weekday in ['saturday', 'sunday']", f);
    }
  });
  it("treats an empty condition as match-all", () => {
    assert.equal(compile("").evaluate(httpAct()), true);
    assert.equal(compile("   \n").evaluate(httpAct()), true);
  });
});

describe("CEL compile: literal normalisation", () => {
  it("lower-cases literals compared with lower-cased facets", () => {
    const act = httpAct({ method: "post" });
    assert.equal(compile("http.method == 'POST'").evaluate(act), true);
    assert.equal(compile("'POST' == http.method").evaluate(act), true);
    assert.equal(compile("http.method in ['GET', 'POST']").evaluate(act), true);
    assert.equal(compile("http.method != 'POST'").evaluate(act), false);
    assert.equal(compile("http.method.startsWith('PO')").evaluate(act), true);
  });
  it("leaves case-sensitive facets alone", () => {
    const act = httpAct({ path: "/V1" });
    assert.equal(compile("http.path == '/v1'").evaluate(act), false);
    assert.equal(compile("http.path == '/V1'").evaluate(act), true);
  });
  it("normalises sql.verb, sql.verbs membership and op.class", () => {
    const act = sqlAct({ verb: "drop", verbs: ["drop"] });
    assert.equal(compile("sql.verb in ['DROP', 'TRUNCATE']", "sql").evaluate(act), true);
    assert.equal(compile("'DROP' in sql.verbs", "sql").evaluate(act), true);
    assert.equal(compile("sets.intersects(sql.verbs, ['DROP'])", "sql").evaluate(act), true);
    assert.equal(compile("op.class == 'READ'", "sql").evaluate(act), true);
  });
});

describe("CEL compile: sets and matches (RE2)", () => {
  it("sets.intersects / contains / equivalent", () => {
    const act = sqlAct({ tables: ["users", "orders"] });
    assert.equal(compile("sets.intersects(sql.tables, ['tokens', 'orders'])", "sql").evaluate(act), true);
    assert.equal(compile("sets.intersects(sql.tables, ['tokens'])", "sql").evaluate(act), false);
    assert.equal(compile("sets.contains(sql.tables, ['users'])", "sql").evaluate(act), true);
    assert.equal(compile("sets.contains(sql.tables, ['users', 'x'])", "sql").evaluate(act), false);
    assert.equal(compile("sets.equivalent(sql.tables, ['orders', 'users'])", "sql").evaluate(act), true);
  });
  it("supports inline flags like (?i) and (?is)", () => {
    const act = sqlAct({ statement: "Select PASSWORD\nfrom x" });
    assert.equal(compile("sql.statement.matches('(?i)\\\\bpassword\\\\b')", "sql").evaluate(act), true);
    assert.equal(compile("sql.statement.matches('\\\\bpassword\\\\b')", "sql").evaluate(act), false);
    assert.equal(compile("sql.statement.matches('(?is)select.*from')", "sql").evaluate(act), true);
    assert.equal(compile("matches(sql.statement, '(?i)PASSWORD')", "sql").evaluate(act), true);
  });
  it("matches unanchored, like RE2 find", () => {
    assert.equal(compile("http.path.matches('pages/[0-9]+')").evaluate(httpAct()), true);
    assert.equal(compile("http.path.matches('^pages')").evaluate(httpAct()), false);
  });
  it("rejects backreferences and lookaround at load", () => {
    assert.match(compileError("http.path.matches('(a)\\\\1')"), /backreferences are not supported/);
    assert.match(compileError("http.path.matches('foo(?=bar)')"), /lookahead/);
    assert.match(compileError("http.path.matches('(?<!x)y')"), /invalid|lookahead/);
    assert.match(compileError("http.path.matches('[')"), /invalid regular expression/);
  });
  it("runs in linear time on a classic catastrophic-backtracking input", () => {
    const cond = compile("http.body.matches('^(a+)+$')");
    const start = process.hrtime.bigint();
    const r = cond.evaluate(httpAct({ body: "a".repeat(50_000) + "!" }));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(r, false);
    // A backtracking engine needs astronomically long here; RE2 is linear.
    assert.ok(ms < 5_000, `took ${ms} ms`);
  });
  it("fails closed on an invalid dynamic pattern", () => {
    const r = compile("http.path.matches(http.query.per_page[0])").evaluate(httpAct({ query: { per_page: ["(a)\\1"] } }));
    assert.ok(isUnevaluable(r));
  });
});

describe("CEL evaluate: errors fail closed", () => {
  it("a missing JSON field is an evaluation error, has() guards it", () => {
    const act = httpAct({ body_json: { title: "x" } });
    const r = compile("http.body_json.archived == true").evaluate(act);
    assert.ok(isUnevaluable(r));
    assert.equal((r as { cause: string }).cause, "error");
    assert.equal(compile("has(http.body_json.archived) && http.body_json.archived == true").evaluate(act), false);
  });
  it("errors are absorbed by && false and || true like CEL", () => {
    const act = httpAct({ body_json: {} });
    assert.equal(compile("http.body_json.x == 1 && http.method == 'post'").evaluate(act), false);
    assert.equal(compile("http.body_json.x == 1 || http.method == 'get'").evaluate(act), true);
    assert.ok(isUnevaluable(compile("http.body_json.x == 1 || http.method == 'post'").evaluate(act)));
  });
});

describe("CEL evaluate: unknowns truth table", () => {
  // verb is unknown (unparseable statement); database is known ("dev").
  const act = sqlAct({ database: "dev" });
  const unk = unknown("sql.verb", "sql.tables", "sql.functions", "sql.verbs", "op.class");
  const U = "U";
  const cases: Array<[string, boolean | "U"]> = [
    ["sql.verb == 'select'", U],
    ["!(sql.verb == 'select')", U],
    ["sql.verb == 'select' && sql.database == 'prod'", false], // U && F = F
    ["sql.database == 'prod' && sql.verb == 'select'", false], // F && U = F
    ["sql.verb == 'select' && sql.database == 'dev'", U], // U && T = U
    ["sql.verb == 'select' || sql.database == 'dev'", true], // U || T = T
    ["sql.database == 'dev' || sql.verb == 'select'", true], // T || U = T
    ["sql.verb == 'select' || sql.database == 'prod'", U], // U || F = U
    ["sql.verb == 'a' || sql.verb == 'b'", U], // U || U = U
    ["sql.verb == 'a' && sql.verb == 'b'", U], // U && U = U
    ["'users' in sql.tables", U],
    ["size(sql.tables) > 0 || true", true],
    ["sql.functions.exists(f, f == 'x') && false", false],
    ["sql.database == 'dev' ? sql.verb == 'x' : true", U],
    ["sql.database == 'prod' ? sql.verb == 'x' : true", true],
    ["sql.verb == 'x' ? true : true", U],
    ["sql.statement.contains('users')", true], // statement stays known when only parsing failed
    ["op.class == 'read'", U],
    ["op.class == 'read' || agent.profile == 'p'", true],
  ];
  for (const [src, want] of cases) {
    it(`${src} ⇒ ${String(want)}`, () => {
      const got = compile(src, "sql").evaluate(act, unk);
      if (want === U) {
        assert.ok(isUnevaluable(got), `got ${JSON.stringify(got)}`);
        assert.equal((got as { cause: string }).cause, "unparseable");
      } else {
        assert.equal(got, want);
      }
    });
  }
  it("has() does not rescue a truncated field", () => {
    const trunc = new Map<string, UnknownCause>([
      ["http.body", "truncated"],
      ["http.body_json", "truncated"],
    ]);
    const r = compile("has(http.body_json.archived)").evaluate(httpAct(), trunc);
    assert.ok(isUnevaluable(r));
    assert.equal((r as { cause: string }).cause, "truncated");
    assert.match((r as { detail: string }).detail, /http\.body_json/);
    // A rule that reads no truncated field evaluates normally.
    assert.equal(compile("http.method == 'get'").evaluate(httpAct(), trunc), true);
  });
  it("records which variable paths a condition reads", () => {
    const c = compile("http.method == 'get' && has(http.body_json.x) && op.class == 'read'");
    assert.deepEqual([...c.reads].sort(), ["http.body_json", "http.method", "op.class"]);
  });
});

describe("CEL values: agent-controlled map keys", () => {
  it("a 'constructor' key in a query map or JSON body does not break map semantics", () => {
    const act = httpAct({
      query: { constructor: ["x"], page: ["2"] },
      body_json: { constructor: [1], nested: { constructor: "y", ok: true } },
    });
    assert.equal(compile("'constructor' in http.query && http.query.page[0] == '2'").evaluate(act), true);
    assert.equal(compile("http.body_json.nested.ok == true && size(http.body_json) == 2").evaluate(act), true);
  });
  it("a '__proto__' key is plain data", () => {
    const act = httpAct({ headers: JSON.parse('{"__proto__": ["a"]}') as Record<string, string[]> });
    assert.equal(compile("'__proto__' in http.headers").evaluate(act), true);
  });
});
