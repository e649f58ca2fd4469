/**
 * Decoding HCL expressions into typed field values.
 *
 * The loader knows each field's declared type (from the plugin type's spec or
 * a core block schema); this module turns the expression written there into
 * that type, following HCL's conversion rules where configs rely on them
 * (a number where a string is expected, `"true"` for a bool) and reporting
 * everything else with HCL's wording at the value's position.
 */
import { error, type Diagnostic, type SourceRange } from "../diagnostics.js";
import type { Expr, TraversalExpr } from "../hcl/ast.js";
import { isParseErrorPlaceholder } from "../hcl/index.js";
import type { DecodedValue, FieldType, RefValue } from "../../types/schema.js";

export type Decoded<T> = { ok: true; value: T } | { ok: false; diagnostics: Diagnostic[] };

function fail<T>(summary: string, detail: string, range: SourceRange): Decoded<T> {
  return { ok: false, diagnostics: [error(summary, detail, range)] };
}

function typeName(t: FieldType): string {
  if (typeof t === "string") {
    switch (t) {
      case "list<string>":
        return "list of string";
      case "map<string,string>":
        return "map of string";
      case "int":
        return "whole number";
      default:
        return t;
    }
  }
  if ("ref" in t) return `reference to ${article(t.ref)} ${t.ref}`;
  return `list of ${t.list.ref} references`;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

function describeExpr(e: Expr): string {
  switch (e.kind) {
    case "literal":
      return e.value === null ? "null" : typeof e.value;
    case "template":
      return "string";
    case "tuple":
      return "list";
    case "object":
      return "object";
    case "traversal":
      return "reference";
    case "call":
      return "function call";
    case "unsupported":
      return e.what;
  }
}

function wrongType<T>(attr: string, want: FieldType, e: Expr): Decoded<T> {
  return fail(
    "Incorrect attribute value type",
    `Inappropriate value for attribute "${attr}": ${typeName(want)} required, got ${describeExpr(e)}.`,
    e.range,
  );
}

/** Rejects expression forms clawpatrol configs never accept as values. */
function unsupported<T>(e: Expr): Decoded<T> | undefined {
  if (e.kind === "call") {
    return fail(
      "Function calls not supported",
      `Calls like ${e.name}(...) are not evaluated in clawpatrol configs; write the value literally (file contents can be inlined with "<<file:path>>" where a field allows it).`,
      e.range,
    );
  }
  if (e.kind === "unsupported") {
    // The parser already reported the syntax error this placeholder stands for.
    if (isParseErrorPlaceholder(e)) return { ok: false, diagnostics: [] };
    return fail(
      "Unsupported expression",
      `A ${e.what} is not supported in clawpatrol configs; write a literal value.`,
      e.range,
    );
  }
  return undefined;
}

/** Decodes a scalar as a string, converting numbers and bools the way HCL does. */
export function decodeString(attr: string, e: Expr): Decoded<string> {
  if (e.kind === "template") return { ok: true, value: e.value };
  if (e.kind === "literal" && (typeof e.value === "number" || typeof e.value === "boolean")) {
    return { ok: true, value: typeof e.value === "number" ? e.raw : String(e.value) };
  }
  return unsupported(e) ?? wrongType(attr, "string", e);
}

function decodeBool(attr: string, e: Expr): Decoded<boolean> {
  if (e.kind === "literal" && typeof e.value === "boolean") return { ok: true, value: e.value };
  if (e.kind === "template" && (e.value === "true" || e.value === "false")) return { ok: true, value: e.value === "true" };
  return unsupported(e) ?? wrongType(attr, "bool", e);
}

function decodeNumber(attr: string, e: Expr, integer: boolean): Decoded<number> {
  let n: number | undefined;
  if (e.kind === "literal" && typeof e.value === "number") n = e.value;
  else if (e.kind === "template" && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(e.value.trim())) n = Number(e.value);
  if (n === undefined || !Number.isFinite(n)) return unsupported(e) ?? wrongType(attr, integer ? "int" : "number", e);
  if (integer && !Number.isSafeInteger(n)) {
    return fail("Incorrect attribute value type", `Inappropriate value for attribute "${attr}": a whole number is required.`, e.range);
  }
  return { ok: true, value: n };
}

/** `type.name` → a {@link RefValue}; a bare `name` becomes `{ type: "", name }` for the resolver to report. */
export function decodeRef(attr: string, e: Expr): Decoded<RefValue> {
  if (e.kind === "traversal") {
    const t: TraversalExpr = e;
    if (t.steps.length === 0) return { ok: true, value: { type: "", name: t.root, range: t.range } };
    const step = t.steps[0]!;
    if (t.steps.length === 1 && step.kind === "attr" && step.name !== undefined) {
      return { ok: true, value: { type: t.root, name: step.name, range: t.range } };
    }
    return fail(
      "Invalid reference",
      `A reference has the form <type>.<name> (for example https.github-api); "${attr}" has extra steps.`,
      t.range,
    );
  }
  if (e.kind === "template") {
    return fail(
      "Invalid reference",
      `"${attr}" takes a reference, not a string: write ${e.value} without quotes.`,
      e.range,
    );
  }
  return unsupported(e) ?? wrongType(attr, { ref: "endpoint" }, e);
}

/** Decodes an expression against a field type. */
export function decodeValue(attr: string, type: FieldType, e: Expr): Decoded<DecodedValue> {
  if (typeof type === "string") {
    switch (type) {
      case "string":
        return decodeString(attr, e);
      case "bool":
        return decodeBool(attr, e);
      case "int":
        return decodeNumber(attr, e, true);
      case "number":
        return decodeNumber(attr, e, false);
      case "list<string>": {
        if (e.kind !== "tuple") return unsupported(e) ?? wrongType(attr, type, e);
        const out: string[] = [];
        const diags: Diagnostic[] = [];
        for (const item of e.items) {
          const d = decodeString(attr, item);
          if (d.ok) out.push(d.value);
          else diags.push(...d.diagnostics);
        }
        return diags.length ? { ok: false, diagnostics: diags } : { ok: true, value: out };
      }
      case "map<string,string>": {
        if (e.kind !== "object") return unsupported(e) ?? wrongType(attr, type, e);
        const out: Record<string, string> = {};
        const diags: Diagnostic[] = [];
        for (const item of e.items) {
          if (item.keyName === undefined) {
            diags.push(error("Invalid map key", `Keys of "${attr}" must be names or quoted strings.`, item.key.range));
            continue;
          }
          const d = decodeString(attr, item.value);
          if (d.ok) out[item.keyName] = d.value;
          else diags.push(...d.diagnostics);
        }
        return diags.length ? { ok: false, diagnostics: diags } : { ok: true, value: out };
      }
    }
  }
  if ("ref" in type) return decodeRef(attr, e);
  if (e.kind !== "tuple") return unsupported(e) ?? wrongType(attr, type, e);
  const refs: RefValue[] = [];
  const diags: Diagnostic[] = [];
  for (const item of e.items) {
    const d = decodeRef(attr, item);
    if (d.ok) refs.push(d.value);
    else diags.push(...d.diagnostics);
  }
  return diags.length ? { ok: false, diagnostics: diags } : { ok: true, value: refs };
}
