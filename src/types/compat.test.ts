// Coverage of the reference's compatibility configs: every plugin block type
// they declare is registered, and every attribute / nested block they set on
// a plugin block or on gateway / defaults / plugin exists in our schemas.
// A deliberately small HCL scanner (statements, labels, brace nesting) is
// enough here; the real parser and loader have their own suites.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlockSchema, PluginKind } from "./schema.js";
import { fieldsOf, specFor } from "./registry.js";
import { fileSchema } from "../config/schema/gateway.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const COMPAT = [join(repoRoot, "test/compat/clawpatrol"), join(repoRoot, "../shared/compat/clawpatrol")].find((d) => existsSync(d));

interface ScannedBlock {
  type: string;
  labels: string[];
  attrs: string[];
  blocks: ScannedBlock[];
  line: number;
}

type Tok = { t: "ident" | "string" | "punct" | "nl" | "other"; v: string; line: number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\n") {
      out.push({ t: "nl", v: "\n", line });
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#" || (c === "/" && src[i + 1] === "/")) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const chunk = src.slice(i, end + 2);
      line += chunk.split("\n").length - 1;
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
      out.push({ t: "string", v: src.slice(i + 1, j), line });
      i = j + 1;
    } else if (c === "<" && src[i + 1] === "<" && /[-A-Za-z]/.test(src[i + 2] ?? "")) {
      const m = /^<<-?([A-Za-z_][A-Za-z0-9_]*)\n/.exec(src.slice(i))!;
      const marker = m[1]!;
      let j = i + m[0].length;
      line++;
      for (;;) {
        const nl = src.indexOf("\n", j);
        const l = src.slice(j, nl < 0 ? src.length : nl);
        j = nl < 0 ? src.length : nl + 1;
        if (l.trim() === marker) break;
        line++;
      }
      out.push({ t: "string", v: "<heredoc>", line });
      out.push({ t: "nl", v: "\n", line });
      line++;
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_-]/.test(src[j]!)) j++;
      out.push({ t: "ident", v: src.slice(i, j), line });
      i = j;
    } else if ("{}[]()=,.:".includes(c)) {
      out.push({ t: "punct", v: c, line });
      i++;
    } else {
      out.push({ t: "other", v: c, line });
      i++;
    }
  }
  return out;
}

/** Parses statements until the closing brace (or end); returns the next token index. */
function parseBody(toks: Tok[], start: number, into: ScannedBlock): number {
  let i = start;
  while (i < toks.length) {
    const tok = toks[i]!;
    if (tok.t === "nl") {
      i++;
      continue;
    }
    if (tok.t === "punct" && tok.v === "}") return i + 1;
    assert.equal(tok.t, "ident", `line ${tok.line}: expected a statement, got ${JSON.stringify(tok.v)}`);
    const next = toks[i + 1];
    if (next?.t === "punct" && next.v === "=") {
      into.attrs.push(tok.v);
      i += 2;
      let depth = 0;
      while (i < toks.length) {
        const e = toks[i]!;
        if (e.t === "punct" && "[({".includes(e.v)) depth++;
        else if (e.t === "punct" && "])}".includes(e.v)) {
          if (depth === 0) break; // closes the enclosing one-line block
          depth--;
        } else if (e.t === "nl" && depth === 0) break;
        i++;
      }
      continue;
    }
    const block: ScannedBlock = { type: tok.v, labels: [], attrs: [], blocks: [], line: tok.line };
    i++;
    while (toks[i]?.t === "string" || toks[i]?.t === "ident") block.labels.push(toks[i++]!.v);
    assert.ok(toks[i]?.t === "punct" && toks[i]!.v === "{", `line ${tok.line}: expected "{" after block ${tok.v}`);
    i = parseBody(toks, i + 1, block);
    into.blocks.push(block);
  }
  return i;
}

function scan(src: string): ScannedBlock {
  const root: ScannedBlock = { type: "<file>", labels: [], attrs: [], blocks: [], line: 0 };
  parseBody(tokenize(src), 0, root);
  return root;
}

const PLUGIN_KINDS = new Set<string>(["endpoint", "credential", "approver", "tunnel"]);

/** Problems: attributes / blocks our schemas do not accept. */
function problems(file: string, root: ScannedBlock): string[] {
  const out: string[] = [];
  const where = (b: ScannedBlock) => `${file}:${b.line} ${[b.type, ...b.labels].join(" ")}`;
  const checkSchema = (b: ScannedBlock, schema: BlockSchema) => {
    for (const a of b.attrs) if (!(a in schema.fields)) out.push(`${where(b)}: unsupported argument ${a}`);
    for (const child of b.blocks) {
      const cs = schema.blocks?.[child.type];
      if (!cs) out.push(`${where(b)}: unsupported block ${child.type}`);
      else checkSchema(child, cs);
    }
  };
  for (const a of root.attrs) if (!(a in fileSchema.fields)) out.push(`${file}: unsupported top-level argument ${a}`);
  for (const b of root.blocks) {
    if (b.type === "rule" || b.type === "profile") continue;
    if (PLUGIN_KINDS.has(b.type)) {
      const spec = specFor(b.type as PluginKind, b.labels[0] ?? "");
      if (!spec) {
        out.push(`${where(b)}: unknown ${b.type} type`);
        continue;
      }
      checkSchema(b, { doc: spec.doc, fields: fieldsOf(spec), blocks: spec.blocks ?? {} });
      continue;
    }
    const schema = fileSchema.blocks?.[b.type];
    if (!schema) out.push(`${where(b)}: unsupported top-level block ${b.type}`);
    else checkSchema(b, schema);
  }
  return out;
}

/** Fixtures that are supposed to carry unsupported syntax. */
const EXPECTED_BAD = new Set(["error_old_grammar.hcl", "error_schema_version_too_new.hcl"]);

function compatFiles(): string[] {
  if (!COMPAT) return [];
  const out: string[] = [];
  for (const dir of ["config-testdata", "examples", "test-fixtures", "discovery"]) {
    const full = join(COMPAT, dir);
    if (!existsSync(full)) continue;
    for (const f of readdirSync(full).sort()) if (f.endsWith(".hcl")) out.push(join(dir, f));
  }
  return out;
}

test("the scanner sees the structure it needs", () => {
  const root = scan(`
gateway {
  public_url = "https://x" # comment
  wireguard { subnet_cidr = "10.55.0.0/24" }
}
endpoint "https" "a" { hosts = ["a", "b"] }
approver "llm_approver" "j" {
  policy = <<-EOT
    not = a statement {
  EOT
  model = "m"
}
profile "p" {
  credentials = [
    { placeholder = "PH", credential = bearer_token.x },
  ]
}
`);
  assert.deepEqual(
    root.blocks.map((b) => [b.type, b.labels, b.attrs, b.blocks.map((c) => [c.type, c.attrs])]),
    [
      ["gateway", [], ["public_url"], [["wireguard", ["subnet_cidr"]]]],
      ["endpoint", ["https", "a"], ["hosts"], []],
      ["approver", ["llm_approver", "j"], ["policy", "model"], []],
      ["profile", ["p"], ["credentials"], []],
    ],
  );
});

test("compat configs: every block type is registered and every field is in our schemas", (t) => {
  const files = compatFiles();
  if (files.length === 0) {
    t.skip("compat suite not found");
    return;
  }
  const all: string[] = [];
  const seenTypes = new Set<string>();
  for (const f of files) {
    const root = scan(readFileSync(join(COMPAT!, f), "utf8"));
    for (const b of root.blocks) if (PLUGIN_KINDS.has(b.type)) seenTypes.add(`${b.type} ${b.labels[0]}`);
    const name = f.split("/").pop()!;
    const p = problems(f, root);
    if (EXPECTED_BAD.has(name)) {
      assert.ok(p.length > 0, `${f} should contain unsupported syntax`);
      continue;
    }
    all.push(...p);
  }
  assert.deepEqual(all, []);
  // The suite exercises a broad slice of the registry; make sure the scan saw it.
  for (const want of ["endpoint kubernetes", "credential ssh_key", "tunnel tailscale", "approver human_approver", "endpoint clickhouse_native"]) {
    assert.ok(seenTypes.has(want), want);
  }
});

test("old-grammar fixtures are rejected for the right reasons", (t) => {
  if (!COMPAT) {
    t.skip("compat suite not found");
    return;
  }
  const old = problems("old", scan(readFileSync(join(COMPAT, "config-testdata/error_old_grammar.hcl"), "utf8")));
  assert.deepEqual(old, ["old:18 endpoint https github: unsupported argument credential"]);
  const future = problems("future", scan(readFileSync(join(COMPAT, "config-testdata/error_schema_version_too_new.hcl"), "utf8")));
  assert.deepEqual(future, ["future:8 gateway: unsupported argument some_future_attr"]);
});
