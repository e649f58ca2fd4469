import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isParseErrorPlaceholder, parseHcl } from "./index.js";
import { attr, block, errorsOf, parseOk, rng } from "./test-helpers.js";

describe("body structure and ranges", () => {
  it("records every block range the loader relies on", () => {
    const src = [
      "# comment",
      'profile "default" {',
      "  credentials = [bearer_token.orb-test]",
      "}",
      "",
      "",
      "",
      "",
      "",
      'credential "bearer_token" "shared" {}',
      "",
    ].join("\n");
    const p = parseOk(src);
    const prof = block(p.body, "profile", "default");
    assert.equal(rng(prof.typeRange), "2:1-2:8");
    assert.equal(rng(prof.labels[0]?.range), "2:9-2:18");
    assert.equal(rng(prof.defRange), "2:1-2:18");
    assert.equal(prof.openBraceRange.start.col, 19);
    assert.equal(rng(prof.openBraceRange), "2:19-2:20");
    assert.equal(rng(prof.closeBraceRange), "4:1-4:2");
    assert.equal(rng(prof.range), "2:1-4:2");
    assert.equal(rng(prof.body.range), "2:20-4:1");

    const cred = block(p.body, "credential", "bearer_token", "shared");
    assert.equal(`${cred.defRange.start.line},${cred.defRange.start.col}-${cred.defRange.end.col}`, "10,1-35");
    assert.deepEqual(cred.body.attributes, []);
    assert.equal(rng(cred.range), "10:1-10:38");
    assert.equal(rng(p.body.range), "1:1-11:1");
  });

  it("records attribute name, expression and full ranges", () => {
    const p = parseOk('rule "r" {\n  endpoint  = mystery\n}\n');
    const a = attr(block(p.body, "rule", "r").body, "endpoint");
    assert.equal(rng(a.nameRange), "2:3-2:11");
    assert.equal(a.expr.range.start.col, 15);
    assert.equal(rng(a.expr.range), "2:15-2:22");
    assert.equal(rng(a.range), "2:3-2:22");
  });

  it("accepts bare identifier labels and unescapes quoted ones", () => {
    const p = parseOk('a b "c\\"d" {\n}\n');
    assert.deepEqual(
      p.body.blocks[0]?.labels.map((l) => l.value),
      ["b", 'c"d'],
    );
  });

  it("nests blocks and keeps attribute order", () => {
    const p = parseOk("gateway {\n  x = 1\n  wireguard {\n    subnet_cidr = \"10.0.0.0/24\"\n  }\n  y = 2\n}\n");
    const gw = block(p.body, "gateway");
    assert.deepEqual(
      gw.body.attributes.map((a) => a.name),
      ["x", "y"],
    );
    assert.equal(block(gw.body, "wireguard").body.attributes[0]?.name, "subnet_cidr");
  });

  it("accepts comments between, after and inside items", () => {
    const p = parseOk(
      [
        "# hash",
        "a = 1 # trailing",
        "b = /* inline */ 2 // trailing",
        "/* multi",
        "   line */",
        "c { // after brace",
        "  // inside",
        "  d = [1, # in a tuple",
        "    2]",
        "} # after block",
        "",
      ].join("\n"),
    );
    assert.deepEqual(
      p.body.attributes.map((x) => x.name),
      ["a", "b"],
    );
    const b = attr(p.body, "b").expr;
    assert.equal(b.kind === "literal" && b.value, 2);
    assert.equal(rng(b.range), "3:18-3:19");
    const d = attr(block(p.body, "c").body, "d").expr;
    assert.equal(d.kind === "tuple" && d.items.length, 2);
  });

  it("accepts an empty file, comments only, and a file without a final newline", () => {
    assert.deepEqual(parseOk("").body.attributes, []);
    parseOk("# only\n// comments\n/* here */\n");
    assert.equal(parseOk("a = 1").body.attributes[0]?.name, "a");
  });
});

describe("single-line blocks", () => {
  it("accepts one attribute or an empty body on one line", () => {
    const p = parseOk('e "https" "x" { hosts = ["a", "b"] }\nb {}\nc { }\nd { v = [\n  1,\n] }\n');
    assert.equal(block(p.body, "e", "https", "x").body.attributes[0]?.name, "hosts");
    assert.equal(block(p.body, "b").body.attributes.length, 0);
  });

  it("rejects two arguments on one line", () => {
    assert.deepEqual(errorsOf('b "x" { a = 1, c = 2 }\nd = 3\n'), ["Invalid single-argument block definition @ 1:14"]);
    assert.deepEqual(errorsOf('b "x" { a = 1 c = 2 }\n'), ["Invalid single-argument block definition @ 1:15"]);
  });

  it("rejects a nested block on one line", () => {
    assert.deepEqual(errorsOf("b { c { } }\nd = 1\n"), ["Invalid single-argument block definition @ 1:5"]);
  });

  it("rejects a single-line block that does not close on its line, then parses the rest", () => {
    const { parsed, diagnostics } = parseHcl('b "x" { a = 1\n  c = 2\n}\nd = 3\n', "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${d.range?.start.line}:${d.range?.start.col}`),
      ["Invalid single-argument block definition @ 1:14"],
    );
    const b = block(parsed.body, "b", "x");
    assert.deepEqual(
      b.body.attributes.map((a) => a.name),
      ["a", "c"],
    );
    assert.equal(parsed.body.attributes[0]?.name, "d");
  });
});

describe("duplicate attributes", () => {
  it("reports the redefinition and points at the first definition", () => {
    const { parsed, diagnostics } = parseHcl('blk {\n  a = 1\n  b = 2\n  a = "x"\n}\n', "cfg.hcl");
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]?.summary, "Attribute redefined");
    assert.equal(rng(diagnostics[0]?.range), "4:3-4:4");
    assert.match(diagnostics[0]?.detail ?? "", /cfg\.hcl:2,3-4/);
    // The first definition wins.
    const a = attr(block(parsed.body, "blk").body, "a");
    assert.equal(a.expr.kind === "literal" && a.expr.value, 1);
  });

  it("treats the same name in different bodies as distinct", () => {
    parseOk("a = 1\nb {\n  a = 2\n}\nb {\n  a = 3\n}\n");
  });
});

describe("syntax errors and recovery", () => {
  it("reports several independent errors in one pass, with positions", () => {
    const src = [
      'gateway {', //                      1
      '  state_dir = "/opt', //            2  unterminated string
      '  public_url = "https://x"', //     3
      '  listen_port 8080', //             4  missing =
      '}', //                              5
      'endpoint "https" "a" {', //         6
      '  hosts = ["a" "b"]', //            7  missing comma
      '  tls = true,', //                  8  comma after argument
      '}', //                              9
      'rule "r" {', //                     10
      '  endpoint = https.a', //           11
      '  endpoint = https.b', //           12 duplicate
      '  verdict = @', //                  13 invalid character
      '}', //                              14
      'profile "p" { credentials = [] }', // 15 fine
      '', //
    ].join("\n");
    const { parsed, diagnostics } = parseHcl(src, "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${d.range?.start.line}:${d.range?.start.col}`),
      [
        "Unterminated template string @ 2:15",
        "Argument or block definition required @ 4:15",
        "Missing item separator @ 7:16",
        "Unexpected comma after argument @ 8:13",
        "Attribute redefined @ 12:3",
        "Invalid character @ 13:13",
      ],
    );
    // Everything around the errors still parsed.
    assert.deepEqual(
      parsed.body.blocks.map((b) => b.type),
      ["gateway", "endpoint", "rule", "profile"],
    );
    assert.deepEqual(
      block(parsed.body, "gateway").body.attributes.map((a) => a.name),
      ["state_dir", "public_url"],
    );
  });

  it("reports an unclosed block at its opening brace, once", () => {
    assert.deepEqual(errorsOf('a "x" {\n  b {\n    c = 1\n'), ["Unclosed configuration block @ 2:5"]);
    const { parsed } = parseHcl('a "x" {\n  v = 1\n', "t.hcl");
    const a = block(parsed.body, "a", "x");
    assert.equal(a.body.attributes[0]?.name, "v");
    assert.equal(rng(a.closeBraceRange), "3:1-3:1");
  });

  it("reports a stray closing brace, and a run of them once", () => {
    assert.deepEqual(errorsOf("a = 1\n}\nb = 2\n"), ["Argument or block definition required @ 2:1"]);
    assert.deepEqual(errorsOf("}}}\na = 1\n}\n"), [
      "Argument or block definition required @ 1:1",
      "Argument or block definition required @ 3:1",
    ]);
  });

  it("does not pile errors on top of an unterminated string that swallowed a brace", () => {
    assert.deepEqual(errorsOf('blk "abc {\n  x = 1\n}\ny = 2\n'), ["Unterminated template string @ 1:5"]);
    const { parsed, diagnostics } = parseHcl('b { a = "foo }\nc = 1\n', "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${d.range?.start.line}:${d.range?.start.col}`),
      ["Unterminated template string @ 1:9"],
    );
    assert.equal(parsed.body.attributes[0]?.name, "c");
  });

  it("reports a block header without a brace once, not its closing brace again", () => {
    assert.deepEqual(errorsOf('gateway {\n  wireguard\n    x = 1\n  }\n  y = 2\n}\nz = 3\n'), [
      "Invalid block definition @ 2:3",
    ]);
  });

  it("accepts, with one error, an opening brace on the next line", () => {
    const { parsed, diagnostics } = parseHcl('blk "a"\n{\n  x = 1\n}\n', "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${d.range?.start.line}:${d.range?.start.col}`),
      ["Invalid block definition @ 2:1"],
    );
    assert.equal(block(parsed.body, "blk", "a").body.attributes[0]?.name, "x");
  });

  it("reports quoted argument names and colons", () => {
    assert.deepEqual(errorsOf('"q" = 1\nx: 1\ny = 2\n'), ["Invalid argument name @ 1:1", "Argument or block definition required @ 2:2"]);
  });

  it("requires newlines after arguments and blocks", () => {
    assert.deepEqual(errorsOf("a = 1 b = 2\nc = 3\n"), ["Missing newline after argument @ 1:7"]);
    assert.deepEqual(errorsOf("a {\n} b {}\nc = 1\n"), ["Missing newline after block definition @ 2:3"]);
    assert.deepEqual(errorsOf("g {\n  w {\n    a = 1 }\n}\nz = 1\n"), ["Missing newline after argument @ 3:11"]);
  });

  it("reports a missing value at the end of the line, leaving a recognisable placeholder", () => {
    const { parsed, diagnostics } = parseHcl("a =\nb = 1\n", "t.hcl");
    assert.equal(isParseErrorPlaceholder(attr(parsed.body, "a").expr), true);
    assert.equal(isParseErrorPlaceholder(attr(parsed.body, "b").expr), false);
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${d.range?.start.line}:${d.range?.start.col}`),
      ["Invalid expression @ 1:4"],
    );
    assert.match(diagnostics[0]?.detail ?? "", /end of the line/);
  });

  it("detects an unclosed tuple at the next body item without a cascade", () => {
    const { parsed, diagnostics } = parseHcl('blk {\n  hosts = ["a", "b"\n  other = 1\n}\n', "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${d.range?.start.line}:${d.range?.start.col}`),
      ["Unclosed tuple @ 2:11"],
    );
    assert.deepEqual(
      block(parsed.body, "blk").body.attributes.map((a) => a.name),
      ["hosts", "other"],
    );
  });

  it("every diagnostic is an error with a range and a detail", () => {
    const { diagnostics } = parseHcl('a = "${x}"\nb {\nc = [1 2]\nd = {e 1}\n"f" = 1\n}}\n', "t.hcl");
    assert.ok(diagnostics.length >= 4);
    for (const d of diagnostics) {
      assert.equal(d.severity, "error");
      assert.ok(d.range, d.summary);
      assert.ok(d.detail && d.detail.length > 10, d.summary);
    }
  });
});

describe("nesting limits", () => {
  it("caps block nesting with one error and no stack overflow", () => {
    const depth = 5000;
    const src = "a {\n".repeat(depth) + "}\n".repeat(depth) + "z = 1\n";
    const { parsed, diagnostics } = parseHcl(src, "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => d.summary),
      ["Nesting too deep"],
    );
    assert.equal(parsed.body.attributes[0]?.name, "z");
  });

  it("caps expression nesting with one error and no stack overflow", () => {
    for (const [open, close] of [
      ["[", "]"],
      ["(", ")"],
      ["{ a = ", "}"],
      ["f(", ")"],
      ["[1 + ", "]"],
    ] as const) {
      const depth = 5000;
      const src = `x = ${open.repeat(depth)}1${close.repeat(depth)}\ny = 2\n`;
      const { parsed, diagnostics } = parseHcl(src, "t.hcl");
      assert.deepEqual(
        diagnostics.map((d) => d.summary),
        ["Nesting too deep"],
        open,
      );
      assert.equal(attr(parsed.body, "y").name, "y");
    }
  });

  it("survives long unary chains and unclosed deep nesting", () => {
    for (const src of ["x = " + "-".repeat(5000) + "1\n", "x = " + "!".repeat(5000) + "a\n", "x = " + "[".repeat(5000) + "\n", "a {\n".repeat(5000)]) {
      const { diagnostics } = parseHcl(src, "t.hcl");
      assert.ok(diagnostics.length >= 1 && diagnostics.length <= 2, `${src.slice(0, 10)}: ${diagnostics.map((d) => d.summary).join(", ")}`);
      assert.ok(!diagnostics.some((d) => d.summary === "Internal parser error"));
    }
  });
});
