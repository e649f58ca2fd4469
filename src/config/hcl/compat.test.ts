import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { formatDiagnostic } from "../diagnostics.js";
import { parseHcl } from "./index.js";
import { attr, block, compatDir, compatFiles } from "./test-helpers.js";

describe("compat corpus", () => {
  const files = compatFiles();

  it("finds the corpus", () => {
    // examples/, config-testdata/, test-fixtures/ and discovery/ together hold 32 files.
    assert.ok(files.length >= 30, `only ${files.length} .hcl files found`);
  });

  for (const path of files) {
    const name = relative(compatDir(), path);
    it(`parses ${name} with zero diagnostics`, () => {
      const { parsed, diagnostics } = parseHcl(readFileSync(path, "utf8"), name);
      assert.deepEqual(diagnostics.map(formatDiagnostic), []);
      assert.ok(parsed.body.blocks.length > 0);
    });
  }

  it("parses the same with CRLF line endings and a BOM", () => {
    const path = files.find((f) => f.endsWith("gateway.example.hcl"));
    assert.ok(path);
    const lf = readFileSync(path, "utf8");
    const crlf = "\ufeff" + lf.replace(/\n/g, "\r\n");
    const a = parseHcl(lf, "g.hcl");
    const b = parseHcl(crlf, "g.hcl");
    assert.deepEqual(b.diagnostics, []);
    // Same structure, values and line/col positions (offsets differ).
    const strip = (_k: string, v: unknown): unknown => {
      if (!v || typeof v !== "object" || !("offset" in v)) return v;
      const pos = v as unknown as { line: number; col: number };
      return { line: pos.line, col: pos.col };
    };
    assert.equal(JSON.stringify(b.parsed.body, strip), JSON.stringify(a.parsed.body, strip));
  });

  it("decodes heredocs in gateway.example.hcl as HCL would", () => {
    const path = files.find((f) => f.endsWith("gateway.example.hcl"));
    assert.ok(path);
    const { parsed } = parseHcl(readFileSync(path, "utf8"), "g.hcl");
    const rule = block(parsed.body, "rule", "pg-banned-verbs");
    const cond = attr(rule.body, "condition").expr;
    assert.equal(cond.kind === "template" && cond.heredoc, true);
    assert.equal(
      cond.kind === "template" && cond.value,
      "sql.verb in [\n  'drop', 'truncate', 'alter', 'grant', 'revoke',\n  'create', 'comment', 'do', 'vacuum',\n]\n",
    );
    const judge = block(parsed.body, "approver", "llm_approver", "no-pii-judge");
    const policy = attr(judge.body, "policy").expr;
    assert.ok(policy.kind === "template" && policy.value.startsWith("Deny if the SELECT projects"));
    assert.ok(policy.kind === "template" && policy.value.includes("\n\n  - users.email\n"));
  });

  it("speed sanity check: a generated 2,000-rule config (logged, not asserted)", () => {
    const parts: string[] = ['endpoint "https" "api" { hosts = ["api.example.com"] }\n'];
    for (let i = 0; i < 2000; i++) {
      parts.push(
        `rule "rule-${i}" {\n` +
          `  endpoint  = https.api\n` +
          `  priority  = ${i % 7 === 0 ? -i : i}\n` +
          `  condition = <<-CEL\n    http.method == 'POST'\n    && http.path.startsWith('/v${i}/')\n  CEL\n` +
          `  approve   = [human_approver.ops, llm_approver.judge-${i}]\n` +
          `  reason    = "rule ${i} \\u2014 generated"\n` +
          `}\n\n`,
      );
    }
    const src = parts.join("");
    const t0 = performance.now();
    const { parsed, diagnostics } = parseHcl(src, "gen.hcl");
    const ms = performance.now() - t0;
    assert.deepEqual(diagnostics, []);
    assert.equal(parsed.body.blocks.length, 2001);
    console.log(`# parsed 2,000 rules (${src.split("\n").length} lines, ${(src.length / 1024).toFixed(0)} KiB) in ${ms.toFixed(1)} ms`);
  });
});
