/**
 * Helpers shared by the HCL parser tests (not used by the parser itself).
 * Ranges are compared as compact `line:col-line:col` strings so a failing
 * assertion shows the position at a glance.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatDiagnostic, type Diagnostic, type SourceRange } from "../diagnostics.js";
import { parseHcl, type Attribute, type Block, type Body, type Expr, type ParsedFile } from "./index.js";

/** `line:col-line:col` for a range. */
export function rng(r: SourceRange | undefined): string {
  if (!r) return "<none>";
  return `${r.start.line}:${r.start.col}-${r.end.line}:${r.end.col}`;
}

/** Parses and asserts there were no diagnostics. */
export function parseOk(src: string, file = "t.hcl"): ParsedFile {
  const { parsed, diagnostics } = parseHcl(src, file);
  assert.deepEqual(diagnostics.map(formatDiagnostic), [], `unexpected diagnostics for:\n${src}`);
  return parsed;
}

/** Parses and returns `summary @ line:col` for each diagnostic, in order. */
export function errorsOf(src: string): string[] {
  return parseHcl(src, "t.hcl").diagnostics.map((d: Diagnostic) => `${d.summary} @ ${d.range ? `${d.range.start.line}:${d.range.start.col}` : "-"}`);
}

export function attr(body: Body, name: string): Attribute {
  const a = body.attributes.find((x) => x.name === name);
  assert.ok(a, `attribute ${name} not found`);
  return a;
}

export function exprOf(src: string, name = "a"): Expr {
  return attr(parseOk(src).body, name).expr;
}

export function block(body: Body, type: string, ...labels: string[]): Block {
  const b = body.blocks.find((x) => x.type === type && labels.every((l, i) => x.labels[i]?.value === l));
  assert.ok(b, `block ${type} ${labels.join(" ")} not found`);
  return b;
}

/**
 * The shared clawpatrol compat corpus. Looked up relative to the compiled test
 * (dist/src/config/hcl → ../../../../../shared) and, failing that, relative to
 * the working directory; absent corpus is a test failure, not a skip.
 */
export function compatDir(): string {
  const candidates = [
    fileURLToPath(new URL("../../../../../shared/compat/clawpatrol/", import.meta.url)),
    join(process.cwd(), "..", "shared", "compat", "clawpatrol"),
    join(process.cwd(), "shared", "compat", "clawpatrol"),
  ];
  const found = candidates.find((c) => existsSync(c));
  assert.ok(found, `compat corpus not found; looked in:\n${candidates.join("\n")}`);
  return found;
}

/** Every `*.hcl` file under the compat corpus (recursive), sorted. */
export function compatFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".hcl")) out.push(p);
    }
  };
  walk(compatDir());
  return out.sort();
}
