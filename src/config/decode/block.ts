/**
 * Generic decoding of a block body against a field table.
 *
 * Plugin blocks (endpoint / credential / approver / tunnel types) and the
 * singleton blocks (`gateway`, `defaults`, ...) are all decoded here from their
 * declared fields, so every block reports unknown arguments, missing required
 * ones, wrong types, bad enum values, `<<file:...>>` inlining and
 * `{{secret:NAME}}` placement the same way, with HCL's wording.
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { error, formatRange, type Diagnostic, type SourceRange } from "../diagnostics.js";
import type { Block, Body } from "../hcl/ast.js";
import type { DecodedSingleton, DecodedValue, FieldSpec, NestedBlockSchema } from "../../types/schema.js";
import { decodeValue } from "./values.js";
import { suggest } from "./suggest.js";

/** I/O the decoder needs, injected so decoding stays testable. */
export interface DecodeIO {
  /** Reads a file for `<<file:...>>`; returns undefined when it cannot be read. */
  readFile(absPath: string): string | undefined;
}

export interface DecodedFields {
  fields: Record<string, DecodedValue>;
  fieldRanges: Record<string, SourceRange>;
}

const FILE_INCLUDE = /^<<file:(.+)>>$/;
const SECRET_REF = /\{\{\s*secret:([^}]*)\}\}/g;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Applies `<<file:...>>`, `{{secret:...}}` and enum rules to a decoded string. */
function checkString(
  attr: string,
  spec: FieldSpec,
  value: string,
  range: SourceRange,
  io: DecodeIO,
  diags: Diagnostic[],
): string | undefined {
  const inc = FILE_INCLUDE.exec(value);
  if (inc) {
    if (!spec.fileInclude) {
      diags.push(error("File inclusion not allowed here", `"${attr}" does not accept "<<file:...>>"; write the value inline.`, range));
      return undefined;
    }
    const rel = inc[1]!.trim();
    // Relative to the including file, whatever the working directory.
    const path = isAbsolute(rel) ? rel : join(dirname(range.file), rel);
    const text = io.readFile(path);
    if (text === undefined) {
      diags.push(error("Cannot read included file", `"${attr}" includes "${rel}" (resolved to ${resolve(path)}), which cannot be read.`, range));
      return undefined;
    }
    return text;
  }
  for (const m of value.matchAll(SECRET_REF)) {
    if (!spec.secretTemplate) {
      diags.push(
        error(
          "Secret reference not allowed here",
          `"${attr}" cannot take "{{secret:...}}"; secrets are injected only into fields documented to accept them.`,
          range,
        ),
      );
      return undefined;
    }
    if (!SECRET_NAME.test(m[1]!.trim())) {
      diags.push(error("Invalid secret reference", `"{{secret:${m[1]}}}" needs a secret name (letters, digits, _ . -).`, range));
      return undefined;
    }
  }
  if (spec.enum && !spec.enum.includes(value)) {
    diags.push(
      error(
        "Invalid value",
        `"${attr}" must be one of ${spec.enum.map((v) => JSON.stringify(v)).join(", ")}; got ${JSON.stringify(value)}.`,
        range,
      ),
    );
    return undefined;
  }
  return value;
}

/**
 * Decodes the attributes of a body against `fields`. Nested blocks are not
 * looked at here; `extra` names attributes a caller decodes itself (e.g. a
 * credential's `endpoint`), which are skipped instead of being unsupported.
 */
export function decodeAttributes(
  body: Body,
  fields: Record<string, FieldSpec>,
  openBrace: SourceRange,
  io: DecodeIO,
  diags: Diagnostic[],
  extra: ReadonlySet<string> = new Set(),
): DecodedFields {
  const out: DecodedFields = { fields: {}, fieldRanges: {} };
  for (const attr of body.attributes) {
    if (extra.has(attr.name)) continue;
    const spec = fields[attr.name];
    if (!spec) {
      const hint = suggest(attr.name, [...Object.keys(fields), ...extra]);
      diags.push(
        error(
          "Unsupported argument",
          `An argument named "${attr.name}" is not expected here.${hint ? ` Did you mean "${hint}"?` : ""}`,
          attr.nameRange,
        ),
      );
      continue;
    }
    const d = decodeValue(attr.name, spec.type, attr.expr);
    if (!d.ok) {
      diags.push(...d.diagnostics);
      continue;
    }
    let value: DecodedValue | undefined = d.value;
    if (typeof value === "string") value = checkString(attr.name, spec, value, attr.expr.range, io, diags);
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
      const strings: string[] = [];
      for (const s of value as string[]) {
        const c = checkString(attr.name, spec, s, attr.expr.range, io, diags);
        if (c !== undefined) strings.push(c);
      }
      value = strings;
    }
    if (value === undefined) continue;
    out.fields[attr.name] = value;
    out.fieldRanges[attr.name] = attr.expr.range;
  }
  for (const [name, spec] of Object.entries(fields)) {
    if (spec.required && !(name in out.fields) && !body.attributes.some((a) => a.name === name)) {
      diags.push(
        error("Missing required argument", `The argument "${name}" is required, but no definition was found.`, openBrace),
      );
    }
  }
  return out;
}

/** Reports every nested block of a body that the caller does not accept. */
export function rejectBlocks(body: Body, allowed: ReadonlySet<string>, diags: Diagnostic[]): void {
  for (const b of body.blocks) {
    if (allowed.has(b.type)) continue;
    const hint = suggest(b.type, [...allowed]);
    diags.push(
      error(
        "Unsupported block type",
        `Blocks of type "${b.type}" are not expected here.${hint ? ` Did you mean "${hint}"?` : ""}`,
        b.typeRange,
      ),
    );
  }
}

/** Checks a block's label count against what its schema expects. */
export function checkLabels(block: Block, expected: readonly string[], diags: Diagnostic[]): boolean {
  if (block.labels.length === expected.length) return true;
  const range = block.labels[expected.length]?.range ?? block.openBraceRange;
  const want = expected.length === 0 ? "no labels" : `${expected.length} label(s): ${expected.join(", ")}`;
  diags.push(
    error(
      block.labels.length > expected.length ? "Extraneous label for block" : "Missing name for block",
      `A "${block.type}" block takes ${want}; found ${block.labels.length}.`,
      range,
    ),
  );
  return false;
}

/** Decodes a singleton or labelled non-plugin block (and its nested blocks) against a schema. */
export function decodeSingleton(block: Block, schema: NestedBlockSchema, io: DecodeIO, diags: Diagnostic[]): DecodedSingleton {
  checkLabels(block, schema.labels ?? [], diags);
  const { fields, fieldRanges } = decodeAttributes(block.body, schema.fields, block.openBraceRange, io, diags);
  const nested = schema.blocks ?? {};
  rejectBlocks(block.body, new Set(Object.keys(nested)), diags);
  const blocks: Record<string, DecodedSingleton[]> = {};
  const firstSeen = new Map<string, Block>();
  for (const b of block.body.blocks) {
    const sub = nested[b.type];
    if (!sub) continue;
    const prev = firstSeen.get(b.type);
    if (prev && !sub.multiple) {
      diags.push(
        error(
          `Duplicate ${b.type} block`,
          `Only one "${b.type}" block is allowed here; the first is at ${formatRange(prev.defRange)}.`,
          b.defRange,
        ),
      );
      continue;
    }
    firstSeen.set(b.type, b);
    (blocks[b.type] ??= []).push(decodeSingleton(b, sub, io, diags));
  }
  return {
    labels: block.labels.map((l) => l.value),
    fields,
    fieldRanges,
    blocks,
    defRange: block.defRange,
    range: block.range,
  };
}
