/**
 * The reference conformance suite (../shared/compat/clawpatrol), checked
 * through the real CLI entry point:
 * - every example and feature config validates (exit 0);
 * - every error_*.hcl exits 1 and, for each line of its .errors.txt, our
 *   output has the same severity, file:line:col (when given) and summary;
 * - the reference fixtures replay with 9 actions checked and 0 mismatches.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { main } from "../src/cli/main.js";

const COMPAT = process.env.CLAWPATROL_COMPAT_DIR ?? join(process.cwd(), "..", "shared", "compat", "clawpatrol");

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

function hclFiles(dir: string, pattern: RegExp): string[] {
  return readdirSync(join(COMPAT, dir))
    .filter((n) => pattern.test(n))
    .sort()
    .map((n) => join(COMPAT, dir, n));
}

describe("compat: reference configs validate", { skip: !existsSync(COMPAT) && !process.env.CI }, () => {
  const files = [
    ...hclFiles("examples", /\.hcl$/),
    ...hclFiles("config-testdata", /^(feature_.*|full)\.hcl$/),
    join(COMPAT, "test-fixtures", "example.hcl"),
  ];
  it("finds the suite", () => assert.ok(files.length >= 12, `only ${files.length} files under ${COMPAT}`));
  for (const f of files) {
    it(basename(f), async () => {
      const r = await cli("validate", f);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^ok: .* — \d+ endpoints across \d+ profile\(s\)\n$/);
      assert.doesNotMatch(r.err, /^error:/m);
    });
  }
});

/** Parses an expected line: `error: file:line:col: Summary — detail` (position optional). */
function expectation(line: string): { severity: string; pos?: string; summary: string } {
  const m = /^(error|warning): (?:([^:\s]+\.hcl:\d+:\d+): )?(.*)$/.exec(line);
  assert.ok(m, `unparseable expectation: ${line}`);
  const summary = m[3]!.split(" — ")[0]!;
  return m[2] ? { severity: m[1]!, pos: m[2], summary } : { severity: m[1]!, summary };
}

describe("compat: error configs produce the reference diagnostics", { skip: !existsSync(COMPAT) && !process.env.CI }, () => {
  for (const f of hclFiles("config-testdata", /^error_.*\.hcl$/)) {
    it(basename(f), async () => {
      const r = await cli("validate", f);
      assert.equal(r.code, 1, `expected exit 1\n${r.err}`);
      const ours = r.err.split("\n").filter((l) => /^(error|warning):/.test(l));
      const expected = readFileSync(f.replace(/\.hcl$/, ".errors.txt"), "utf8")
        .split("\n")
        .filter((l) => /^(error|warning):/.test(l));
      assert.ok(expected.length > 0);
      for (const line of expected) {
        const want = expectation(line);
        const hit = ours.find((o) => {
          if (!o.startsWith(`${want.severity}: `)) return false;
          const rest = o.slice(want.severity.length + 2);
          if (want.pos) {
            // Our paths are as given on the command line; the reference prints the base name.
            const m = /^(.*?\.hcl):(\d+:\d+): (.*)$/.exec(rest);
            return !!m && basename(m[1]!) + ":" + m[2] === want.pos && m[3]!.startsWith(`${want.summary} — `);
          }
          return rest.startsWith(`${want.summary} — `) || rest === want.summary;
        });
        assert.ok(hit, `missing: ${line}\n--- ours:\n${ours.join("\n")}`);
      }
    });
  }
});

describe("compat: reference fixtures", { skip: !existsSync(COMPAT) && !process.env.CI }, () => {
  it("clawpatrol test example.hcl test-fixtures/ → 9 checked, 0 mismatches", async () => {
    const dir = join(COMPAT, "test-fixtures");
    const r = await cli("test", join(dir, "example.hcl"), dir);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /\n9 action\(s\) checked, 0 mismatch\(es\)\n$/);
    assert.equal(r.out.split("\n").filter((l) => l.startsWith("ok   ")).length, 9);
  });
  it("--json reports one object per fixture with want and got", async () => {
    const dir = join(COMPAT, "test-fixtures");
    const r = await cli("test", "--json", join(dir, "example.hcl"), dir);
    assert.equal(r.code, 0);
    const rows = JSON.parse(r.out) as Array<{ file: string; ok: boolean; want: Record<string, string>; got: Record<string, string> }>;
    assert.equal(rows.length, 9);
    const del = rows.find((x) => x.file.endsWith("delete-issue.json"))!;
    assert.deepEqual(del.want, { verdict: "deny", rule: "github-writes", endpoint: "https.github" });
    assert.deepEqual(del.got, { verdict: "deny", rule: "github-writes", endpoint: "https.github", reason: "writes go through PR review" });
  });
});
