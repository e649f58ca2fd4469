/**
 * Public entry point of the HCL2 native-syntax parser used for clawpatrol
 * config files. Import from here, not from the individual modules.
 */
import { error, type Diagnostic } from "../diagnostics.js";
import type { Expr, ParsedFile } from "./ast.js";
import { parseFile } from "./parser.js";
import { PositionMap } from "./positions.js";
import { INVALID_EXPRESSION } from "./state.js";

export type * from "./ast.js";

export { INVALID_EXPRESSION };

/**
 * True for the placeholder the parser leaves where an expression had a syntax
 * error (an `UnsupportedExpr` whose `what` is {@link INVALID_EXPRESSION}).
 * The parser has already reported that error, so a decoder should skip the
 * value without a second diagnostic — otherwise one typo shows up twice.
 */
export function isParseErrorPlaceholder(e: Expr): boolean {
  return e.kind === "unsupported" && e.what === INVALID_EXPRESSION;
}

/** Summary of the diagnostic returned if the parser itself fails (a bug, never a config problem). */
export const INTERNAL_ERROR_SUMMARY = "Internal parser error";

/**
 * Parses one HCL file into a body of attributes and blocks.
 *
 * The loader wants every problem of a file in one run, so this never throws:
 * syntax errors come back as diagnostics (with `file:line:col` ranges), and
 * the body is always present, holding whatever parsed cleanly. Positions are
 * 1-based lines and character columns; offsets index into `source` as given
 * (a leading byte-order mark is skipped, not removed). A defect in the parser
 * itself is reported as an {@link INTERNAL_ERROR_SUMMARY} diagnostic rather
 * than crashing the gateway.
 */
export function parseHcl(source: string, file: string): { parsed: ParsedFile; diagnostics: Diagnostic[] } {
  try {
    return parseFile(source, file);
  } catch (e) {
    const range = new PositionMap(file, source).range(0, 0);
    const message = e instanceof Error ? e.message : String(e);
    return {
      parsed: { file, source, body: { attributes: [], blocks: [], range } },
      diagnostics: [
        error(
          INTERNAL_ERROR_SUMMARY,
          `The config parser failed unexpectedly (${message}). This is a clawpatrol bug; please report it together with the file.`,
          range,
        ),
      ],
    };
  }
}
