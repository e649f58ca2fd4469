import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { lex, type Token } from "./lexer.js";
import { PositionMap } from "./positions.js";
import { errorsOf, exprOf, parseOk, rng } from "./test-helpers.js";
import { parseHcl } from "./index.js";

function tokens(src: string): string[] {
  const map = new PositionMap("t.hcl", src);
  return lex(src, map).tokens.map((t: Token) => (t.kind === t.value || t.kind === "eof" ? t.kind : `${t.kind}:${JSON.stringify(t.value)}`));
}

function strValue(src: string): string {
  const e = exprOf(src);
  assert.equal(e.kind, "template");
  return e.value;
}

describe("positions", () => {
  it("counts 1-based lines and character columns, tabs as one column", () => {
    const map = new PositionMap("f.hcl", "ab\n\tcd\n");
    assert.deepEqual(map.pos(0), { line: 1, col: 1, offset: 0 });
    assert.deepEqual(map.pos(4), { line: 2, col: 2, offset: 4 });
    assert.deepEqual(map.pos(7), { line: 3, col: 1, offset: 7 });
  });

  it("counts a surrogate pair as one column", () => {
    const src = 'a = "\u{1F600}x" # c\nb = 1\n';
    const p = parseOk(src);
    const a = p.body.attributes[0];
    assert.equal(rng(a?.expr.range), "1:5-1:9");
    // The offset still indexes the JS string, so slicing works.
    assert.equal(src.slice(a?.expr.range.start.offset, a?.expr.range.end.offset), '"\u{1F600}x"');
  });

  it("skips a UTF-8 BOM without shifting columns, keeping offsets into the source", () => {
    const src = "\ufeffname = 1\n";
    const a = parseOk(src).body.attributes[0];
    assert.equal(rng(a?.nameRange), "1:1-1:5");
    assert.equal(a?.nameRange.start.offset, 1);
  });

  it("treats CRLF as one line break", () => {
    const p = parseOk('a = 1\r\nblk "x" {\r\n  b = "y"\r\n}\r\n');
    const b = p.body.blocks[0];
    assert.equal(rng(b?.defRange), "2:1-2:8");
    assert.equal(rng(b?.body.attributes[0]?.expr.range), "3:7-3:10");
    assert.equal(rng(b?.closeBraceRange), "4:1-4:2");
  });
});

describe("tokens", () => {
  it("lexes identifiers with dashes, numbers and punctuation", () => {
    assert.deepEqual(tokens("k8s-dev-iad = https.github-api\n"), [
      'ident:"k8s-dev-iad"',
      "=",
      'ident:"https"',
      ".",
      'ident:"github-api"',
      'newline:"\\n"',
      "eof",
    ]);
    assert.deepEqual(tokens("x = 1.5e+3 ... => == != <= >= && || ::"), [
      'ident:"x"',
      "=",
      'number:"1.5e+3"',
      "...",
      "=>",
      "==",
      "!=",
      "<=",
      ">=",
      "&&",
      "||",
      "::",
      "eof",
    ]);
  });

  it("reads digits after a dot as an integer step, not a fraction", () => {
    assert.deepEqual(tokens("a.0.1"), ['ident:"a"', ".", 'number:"0"', ".", 'number:"1"', "eof"]);
  });

  it("drops comments but keeps the newline that ends them", () => {
    assert.deepEqual(tokens("a # one\nb // two\nc /* three\n */ d"), [
      'ident:"a"',
      'newline:"\\n"',
      'ident:"b"',
      'newline:"\\n"',
      'ident:"c"',
      'ident:"d"',
      "eof",
    ]);
  });

  it("reports an unterminated block comment once, at the /*", () => {
    assert.deepEqual(errorsOf("a = 1\n/* never closed\nb {\n"), ["Unterminated block comment @ 2:1"]);
  });
});

describe("quoted strings", () => {
  it("unescapes every supported escape", () => {
    assert.equal(strValue('a = "x\\n\\r\\t\\"\\\\\\u00e9\\U0001F600"\n'), 'x\n\r\t"\\\u00e9\u{1F600}');
  });

  it("reports invalid escapes at the backslash and keeps going", () => {
    assert.deepEqual(errorsOf('a = "\\q"\nb = "\\u12"\nc = "ok"\n'), [
      "Invalid escape sequence @ 1:6",
      "Invalid escape sequence @ 2:6",
    ]);
  });

  it("reports an unterminated string at its opening quote, without a cascade", () => {
    assert.deepEqual(errorsOf('a = "foo\nb = 2\n'), ["Unterminated template string @ 1:5"]);
  });

  it("rejects ${ and %{ at the $ / %, and accepts their escapes", () => {
    const { diagnostics } = parseHcl('a = "x ${var.y} z"\nb = "%{ if c }d%{ endif }"\n', "t.hcl");
    assert.deepEqual(
      diagnostics.map((d) => `${d.summary} @ ${rng(d.range)}`),
      [
        "Template interpolation is not supported @ 1:8-1:16",
        "Template directive is not supported @ 2:6-2:15",
        "Template directive is not supported @ 2:16-2:26",
      ],
    );
    assert.match(diagnostics[0]?.detail ?? "", /literal strings/);
    assert.match(diagnostics[0]?.detail ?? "", /\$\$\{/);
    assert.match(diagnostics[1]?.detail ?? "", /%%\{/);
    assert.equal(strValue('a = "$${x} %%{y} $ % $$ %%"\n'), "${x} %{y} $ % $$ %%");
  });

  it("skips quotes nested in a rejected interpolation", () => {
    assert.deepEqual(errorsOf('a = "${f("x")}"\nb = 1\n'), ["Template interpolation is not supported @ 1:6"]);
  });

  it("accepts single quotes once, with a hint, keeping the text", () => {
    const { parsed, diagnostics } = parseHcl("a = 'x'\n", "t.hcl");
    assert.deepEqual(diagnostics.map((d) => d.summary), ["Invalid character"]);
    assert.match(diagnostics[0]?.detail ?? "", /double quotes/);
    assert.equal(parsed.body.attributes[0]?.expr.kind, "template");
  });
});

describe("heredocs", () => {
  it("keeps a plain heredoc verbatim, including the last newline", () => {
    assert.equal(strValue("a = <<EOT\n  x\n    y\n  EOT\n"), "  x\n    y\n");
  });

  it("strips the common indentation with <<-, ignoring blank lines", () => {
    assert.equal(strValue("a = <<-EOT\n    x\n\n      y\n    z\n  EOT\n"), "x\n\n  y\nz\n");
    assert.equal(strValue("a = <<-EOT\n    x\n  y\n    z\n  EOT\n"), "  x\ny\n  z\n");
    assert.equal(strValue("a = <<-EOT\n\tx\n\t\ty\n\tEOT\n"), "x\n\ty\n");
  });

  it("keeps whitespace-only lines as written (as HCL does)", () => {
    assert.equal(strValue("a = <<-EOT\n    x\n      \n    y\n    EOT\n"), "x\n      \ny\n");
  });

  it("supports an empty heredoc and a closing marker at end of file", () => {
    assert.equal(strValue("a = <<EOT\nEOT\n"), "");
    assert.equal(strValue("a = <<-EOT\n  x\n  EOT"), "x\n");
  });

  it("does not treat a line that merely ends with the marker as the end", () => {
    assert.equal(strValue("a = <<EOT\n  NOT EOT\nEOT\n"), "  NOT EOT\n");
  });

  it("normalises CRLF line endings in the value", () => {
    assert.equal(strValue("a = <<-EOT\r\n  x\r\n  y\r\n  EOT\r\n"), "x\ny\n");
  });

  it("does not process backslash escapes, but does $${", () => {
    assert.equal(strValue("a = <<EOT\n\\n $${x} %%{y}\nEOT\n"), "\\n ${x} %{y}\n");
  });

  it("spans from << through the closing marker", () => {
    const e = exprOf("a = <<-CEL\n    x\n  CEL\nb = 1\n");
    assert.equal(rng(e.range), "1:5-3:6");
  });

  it("rejects template sequences inside heredocs at the $", () => {
    assert.deepEqual(errorsOf("a = <<-EOT\n  x ${y}\n  EOT\nb = 1\n"), ["Template interpolation is not supported @ 2:5"]);
  });

  it("reports an unterminated heredoc once and nothing about what it swallowed", () => {
    assert.deepEqual(errorsOf('blk "x" {\n  a = <<EOT\n  foo\n}\n'), ["Unterminated heredoc @ 2:7"]);
  });

  it("reports a heredoc marker without a name", () => {
    assert.deepEqual(errorsOf("a = <<\nb = 1\n"), ["Invalid heredoc @ 1:5"]);
  });
});

describe("invalid characters", () => {
  it("reports a run of invalid characters once, and the parser stays quiet about it", () => {
    assert.deepEqual(errorsOf("a = 1 @@@\nb = @\nc = 3\n"), ["Invalid character @ 1:7", "Invalid character @ 2:5"]);
  });

  it("gives a hint for semicolons", () => {
    const d = parseHcl("a = 1;\n", "t.hcl").diagnostics;
    assert.equal(d.length, 1);
    assert.match(d[0]?.detail ?? "", /own line/);
  });
});
