/**
 * Diagnostics: the one shape every config problem takes, from a stray
 * character in the HCL lexer to an ambiguous credential binding in the
 * compiler. Keeping one type lets `clawpatrol validate` print everything it
 * found in a single run, sorted and formatted the same way.
 */

/** A position in a source file. `line` and `col` are 1-based; `col` counts characters. */
export interface Pos {
  line: number;
  col: number;
  /** 0-based character offset into the source text. */
  offset: number;
}

/** A half-open source range `[start, end)` within one file. */
export interface SourceRange {
  file: string;
  start: Pos;
  end: Pos;
}

export type Severity = "error" | "warning";

export interface Diagnostic {
  severity: Severity;
  /** One line, no trailing period: what is wrong. */
  summary: string;
  /** Why, and what to do about it. */
  detail?: string;
  /** Where, when the problem has a location (some are about the config as a whole). */
  range?: SourceRange;
}

/** `file:line:col` for a range's start. */
export function formatPos(r: SourceRange): string {
  return `${r.file}:${r.start.line}:${r.start.col}`;
}

/**
 * HCL's compact range form, `file:line,col-endcol` (or `file:line,col-endline,endcol`
 * when it spans lines). Used in details that point at a second location.
 */
export function formatRange(r: SourceRange): string {
  const head = `${r.file}:${r.start.line},${r.start.col}`;
  if (r.end.line === r.start.line) return `${head}-${r.end.col}`;
  return `${head}-${r.end.line},${r.end.col}`;
}

/** `error: file:line:col: summary — detail`, the line format `validate` prints. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.range ? `${formatPos(d.range)}: ` : "";
  const detail = d.detail ? ` — ${d.detail}` : "";
  return `${d.severity}: ${where}${d.summary}${detail}`;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === "error");
}

export function error(summary: string, detail?: string, range?: SourceRange): Diagnostic {
  const d: Diagnostic = { severity: "error", summary };
  if (detail !== undefined) d.detail = detail;
  if (range !== undefined) d.range = range;
  return d;
}

export function warning(summary: string, detail?: string, range?: SourceRange): Diagnostic {
  const d: Diagnostic = { severity: "warning", summary };
  if (detail !== undefined) d.detail = detail;
  if (range !== undefined) d.range = range;
  return d;
}
