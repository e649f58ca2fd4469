// docs/config-reference.md is written by hand; this keeps it honest about
// which types and fields exist.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BlockSchema } from "./schema.js";
import { SPECS, fieldsOf } from "./registry.js";
import { fileSchema } from "../config/schema/gateway.js";

const doc = readFileSync(fileURLToPath(new URL("../../../docs/config-reference.md", import.meta.url)), "utf8");

test("every plugin type and field is in docs/config-reference.md", () => {
  for (const spec of SPECS) {
    assert.ok(doc.includes(`### \`${spec.kind} "${spec.type}"\``), `${spec.kind} ${spec.type} has no section`);
    for (const alias of spec.aliases ?? []) assert.ok(doc.includes(`\`${spec.kind} "${alias}"\``), `alias ${alias}`);
    for (const field of Object.keys(fieldsOf(spec))) {
      assert.ok(doc.includes(`| \`${field}\` |`), `${spec.kind} ${spec.type}.${field} is undocumented`);
    }
    for (const [b, schema] of Object.entries(spec.blocks ?? {})) {
      assert.ok(doc.includes(`\`${b} { ... }\``), `${spec.type} block ${b}`);
      for (const field of Object.keys(schema.fields)) assert.ok(doc.includes(`| \`${field}\` |`), `${spec.type}.${b}.${field}`);
    }
  }
});

test("every operational block and field is in docs/config-reference.md", () => {
  const walk = (path: string, s: BlockSchema) => {
    for (const field of Object.keys(s.fields)) assert.ok(doc.includes(`\`${field}`), `${path}.${field} is undocumented`);
    for (const [name, b] of Object.entries(s.blocks ?? {})) {
      assert.ok(doc.includes(`${name} {`) || doc.includes(`${name} "`), `block ${name}`);
      walk(`${path}.${name}`, b);
    }
  };
  walk("file", fileSchema);
});
