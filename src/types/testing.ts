/**
 * Builders for hand-made decoded blocks in unit tests: the spec and schema
 * checks take decoded input, and the tests construct it directly instead
 * of going through the HCL parser and loader.
 */
import type { SourceRange } from "../config/diagnostics.js";
import { error } from "../config/diagnostics.js";
import type { DecodedBlock, DecodedSingleton, DecodedValue, PluginKind, RefValue, ValidateContext } from "./schema.js";

/** A range on one line of `test.hcl`. */
export function rangeAt(line: number, col = 1, endCol = col + 1): SourceRange {
  return { file: "test.hcl", start: { line, col, offset: 0 }, end: { line, col: endCol, offset: 0 } };
}

/** A reference value `type.name`. */
export function ref(type: string, name: string, line = 1): RefValue {
  return { type, name, range: rangeAt(line) };
}

/** A decoded plugin block; every field gets its own line so ranges differ. */
export function pluginBlock(
  kind: PluginKind,
  type: string,
  name: string,
  fields: Record<string, DecodedValue>,
  blocks?: Record<string, DecodedSingleton[]>,
): DecodedBlock {
  const fieldRanges: Record<string, SourceRange> = {};
  Object.keys(fields).forEach((k, i) => (fieldRanges[k] = rangeAt(i + 2, 3)));
  const b: DecodedBlock = { kind, type, name, fields, fieldRanges, defRange: rangeAt(1, 1, 20), range: rangeAt(1, 1, 40) };
  if (blocks) b.blocks = blocks;
  return b;
}

/** A decoded singleton block (gateway, wireguard, defaults, plugin, ...). */
export function singleton(
  fields: Record<string, DecodedValue> = {},
  blocks: Record<string, DecodedSingleton[]> = {},
  labels: string[] = [],
): DecodedSingleton {
  const fieldRanges: Record<string, SourceRange> = {};
  Object.keys(fields).forEach((k, i) => (fieldRanges[k] = rangeAt(i + 2, 3)));
  return { labels, fields, fieldRanges, blocks, defRange: rangeAt(1, 1, 10), range: rangeAt(1, 1, 40) };
}

/** The context the loader hands to `validate` hooks. */
export const testContext: ValidateContext = {
  error: (summary, detail, range) => error(summary, detail, range),
};
