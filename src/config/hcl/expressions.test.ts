import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseHcl, type Expr } from "./index.js";
import { errorsOf, exprOf, rng } from "./test-helpers.js";

/** A compact structural rendering of an expression (ranges omitted). */
function show(e: Expr | undefined): string {
  if (!e) return "<none>";
  switch (e.kind) {
    case "literal":
      return `lit(${String(e.value)})`;
    case "template":
      return JSON.stringify(e.value);
    case "tuple":
      return `[${e.items.map(show).join(", ")}]`;
    case "object":
      return `{${e.items.map((i) => `${i.keyName ?? `(${show(i.key)})`}=${show(i.value)}`).join(", ")}}`;
    case "traversal":
      return [e.root, ...e.steps.map((s) => (s.kind === "attr" ? `.${s.name}` : `[${show(s.key)}]`))].join("");
    case "call":
      return `${e.name}(${e.args.map(show).join(", ")})`;
    case "unsupported":
      return `unsupported(${e.what})`;
  }
}

describe("literals", () => {
  it("parses numbers keeping their spelling", () => {
    for (const [src, value] of [
      ["0", 0],
      ["42", 42],
      ["3.25", 3.25],
      ["1e3", 1000],
      ["2.5E-2", 0.025],
    ] as const) {
      const e = exprOf(`a = ${src}\n`);
      assert.equal(e.kind, "literal");
      assert.equal(e.kind === "literal" && e.value, value);
      assert.equal(e.kind === "literal" && e.raw, src);
      assert.equal(rng(e.range), `1:5-1:${5 + src.length}`);
    }
  });

  it("folds a leading minus into a negative literal spanning both", () => {
    const e = exprOf("a = -100\n");
    assert.deepEqual(
      e.kind === "literal" && { value: e.value, raw: e.raw, range: rng(e.range) },
      { value: -100, raw: "-100", range: "1:5-1:9" },
    );
    assert.equal(show(exprOf("a = -1.5\n")), "lit(-1.5)");
    assert.equal(show(exprOf("a = [-1, - 2]\n")), "[lit(-1), lit(-2)]");
  });

  it("parses true, false and null", () => {
    assert.equal(show(exprOf("a = [true, false, null]\n")), "[lit(true), lit(false), lit(null)]");
    const e = exprOf("a = null\n");
    assert.equal(e.kind === "literal" && e.value, null);
  });

  it("parses quoted strings with their quotes in the range", () => {
    const e = exprOf('a = "hi there"\n');
    assert.equal(show(e), '"hi there"');
    assert.equal(e.kind === "template" && e.heredoc, false);
    assert.equal(rng(e.range), "1:5-1:15");
  });
});

describe("collections", () => {
  it("parses tuples with trailing commas and newlines", () => {
    const e = exprOf('a = [\n  "x",\n  "y",\n]\n');
    assert.equal(show(e), '["x", "y"]');
    assert.equal(rng(e.range), "1:5-4:2");
    assert.equal(e.kind === "tuple" && rng(e.items[1]?.range), "3:3-3:6");
    assert.equal(show(exprOf("a = []\n")), "[]");
  });

  it("parses objects with =, :, commas and newlines", () => {
    assert.equal(show(exprOf('a = { k = 1, k2 = "v" }\n')), '{k=lit(1), k2="v"}');
    assert.equal(show(exprOf('a = { k: 1, "a.b": 2 }\n')), "{k=lit(1), a.b=lit(2)}");
    assert.equal(show(exprOf("a = {\n  x = 1\n  y = 2,\n\n  z = 3\n}\n")), "{x=lit(1), y=lit(2), z=lit(3)}");
    assert.equal(show(exprOf("a = {}\n")), "{}");
  });

  it("keeps parenthesised keys as expressions without a key name", () => {
    const e = exprOf("a = { (k.x) = 1, plain = 2 }\n");
    assert.equal(e.kind, "object");
    if (e.kind !== "object") return;
    assert.equal(e.items[0]?.keyName, undefined);
    assert.equal(show(e.items[0]?.key), "k.x");
    assert.equal(e.items[1]?.keyName, "plain");
  });

  it("records object item ranges", () => {
    const e = exprOf('a = [\n  { placeholder = "PH", credential = bearer_token.orb-test },\n]\n');
    assert.equal(e.kind, "tuple");
    const obj = e.kind === "tuple" ? e.items[0] : undefined;
    assert.equal(obj?.kind, "object");
    if (obj?.kind !== "object") return;
    assert.equal(rng(obj.range), "2:3-2:61");
    assert.equal(rng(obj.items[0]?.range), "2:5-2:23");
    assert.equal(rng(obj.items[1]?.key.range), "2:25-2:35");
    assert.equal(show(obj.items[1]?.value), "bearer_token.orb-test");
  });

  it("nests tuples and objects", () => {
    assert.equal(show(exprOf("a = [[1], {b = [2, {c = 3}]}]\n")), "[[lit(1)], {b=[lit(2), {c=lit(3)}]}]");
  });
});

describe("traversals and calls", () => {
  it("parses dotted references with dashes and exact step ranges", () => {
    const e = exprOf("a = https.github-api\n");
    assert.equal(e.kind, "traversal");
    if (e.kind !== "traversal") return;
    assert.equal(e.root, "https");
    assert.equal(rng(e.rootRange), "1:5-1:10");
    assert.deepEqual(
      e.steps.map((s) => [s.kind, s.name, rng(s.range)]),
      [["attr", "github-api", "1:10-1:21"]],
    );
    assert.equal(rng(e.range), "1:5-1:21");
  });

  it("parses a bare reference and index steps", () => {
    assert.equal(show(exprOf("a = mystery\n")), "mystery");
    const e = exprOf('a = x.y["k"][0].z.1\n');
    assert.equal(show(e), 'x.y["k"][lit(0)].z[lit(1)]');
    assert.equal(e.kind === "traversal" && rng(e.steps[1]?.range), "1:8-1:13");
  });

  it("parses function calls, including namespaced ones", () => {
    const e = exprOf('a = file("x", 2,)\n');
    assert.equal(show(e), 'file("x", lit(2))');
    assert.equal(rng(e.range), "1:5-1:18");
    assert.equal(show(exprOf("a = f()\n")), "f()");
    assert.equal(show(exprOf("a = provider::ns::fn(\n  1,\n  2\n)\n")), "provider::ns::fn(lit(1), lit(2))");
  });

  it("parenthesised expressions yield the inner expression", () => {
    assert.equal(show(exprOf("a = (x.y)\n")), "x.y");
    assert.equal(show(exprOf("a = (\n  1\n)\n")), "lit(1)");
  });
});

describe("unsupported expressions", () => {
  const cases: [string, string][] = [
    ["1 + 2", "binary operator"],
    ["a.b == c", "binary operator"],
    ["x || y && z", "binary operator"],
    ["!a", "unary operator"],
    ["-a", "unary operator"],
    ["a ? b : c", "conditional"],
    ["[for x in y : x]", "for expression"],
    ["[for i, x in y : x if x]", "for expression"],
    ["{for k, v in m : k => v...}", "for expression"],
    ["a.*.b", "splat expression"],
    ["a[*].b", "splat expression"],
    ["f(x).y", "attribute or index access on a computed value"],
    ["[1, 2][0]", "attribute or index access on a computed value"],
  ];
  for (const [src, what] of cases) {
    it(`${src} → ${what}`, () => {
      const e = exprOf(`a = ${src}\nb = 1\n`);
      assert.equal(e.kind, "unsupported");
      assert.equal(e.kind === "unsupported" && e.what, what);
      assert.equal(rng(e.range), `1:5-1:${5 + src.length}`);
    });
  }

  it("applies precedence so the whole expression is one node", () => {
    const e = exprOf("a = 1 + 2 * 3 > 4 ? x : y\n");
    assert.equal(show(e), "unsupported(conditional)");
    assert.equal(show(exprOf("a = [1 + 2, 3]\n")), "[unsupported(binary operator), lit(3)]");
    assert.equal(show(exprOf("a = (1 +\n  2)\n")), "unsupported(binary operator)");
  });

  it("reports malformed operators and for expressions", () => {
    assert.deepEqual(errorsOf("a = 1 +\nb = 2\n"), ["Invalid expression @ 1:8"]);
    assert.deepEqual(errorsOf("a = x ? y\nb = 2\n"), ["Missing false expression in conditional @ 1:10"]);
    assert.deepEqual(errorsOf("a = [for x y]\nb = 2\n"), ["Invalid for expression @ 1:12"]);
  });
});

describe("expression errors", () => {
  it("reports separators and key problems at the right token", () => {
    assert.deepEqual(errorsOf("a = [1 2]\nb = {c = 1 d = 2}\nc = {e 1}\nd = x.\ne = f(1 2)\n"), [
      "Missing item separator @ 1:8",
      "Missing attribute separator @ 2:12",
      "Missing key/value separator @ 3:8",
      "Invalid attribute name @ 4:7",
      "Missing argument separator @ 5:9",
    ]);
  });

  it("reports unclosed brackets at the opener", () => {
    assert.deepEqual(errorsOf("a = (1\nb = 2\n"), ["Unbalanced parentheses @ 1:5"]);
    assert.deepEqual(errorsOf("a = f(1,\nb = 2\n"), ["Unclosed function call @ 1:6"]);
    assert.deepEqual(errorsOf("blk {\n  a = [1,\n}\n"), ["Unclosed tuple @ 2:7"]);
    assert.deepEqual(errorsOf("a = {\n  b = 1\n"), ["Unclosed object @ 1:5"]);
  });

  it("keeps the well-formed items of a broken tuple", () => {
    const { parsed, diagnostics } = parseHcl("a = [1, 2 3, 4]\n", "t.hcl");
    assert.equal(diagnostics.length, 1);
    assert.equal(show(parsed.body.attributes[0]?.expr), "[lit(1), lit(2), lit(4)]");
  });
});
