/**
 * Offset → line/column mapping for one source file.
 *
 * The lexer and parser work with plain string offsets (cheap to store on every
 * token) and convert to {@link Pos} only when building AST nodes and
 * diagnostics. Columns count characters (code points), not UTF-16 code units,
 * so a line containing an emoji still reports the column a user sees; tabs
 * count as one column. A leading UTF-8 byte-order mark is treated as invisible:
 * line 1, column 1 is the character after it, while offsets still index into
 * the original string.
 */
import type { Pos, SourceRange } from "../diagnostics.js";

/** Built once per file; line starts are precomputed so each lookup is a binary search. */
export class PositionMap {
  /** Offset at which each line starts (index 0 = line 1). */
  private readonly lineStarts: number[];
  /** Per-line code-point column tables, built only for lines with surrogate pairs. */
  private readonly wideLines = new Map<number, Int32Array>();
  /** Per-line flag cache: 1 = has surrogates, 0 = plain. */
  private readonly wideFlag: Int8Array;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    const starts = [text.charCodeAt(0) === 0xfeff ? 1 : 0];
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    this.lineStarts = starts;
    this.wideFlag = new Int8Array(starts.length).fill(-1);
  }

  /** Position of a 0-based offset (clamped to the text). */
  pos(offset: number): Pos {
    const text = this.text;
    if (offset < 0) offset = 0;
    if (offset > text.length) offset = text.length;
    const line = this.lineIndex(offset);
    const start = this.lineStarts[line] ?? 0;
    if (offset < start) return { line: line + 1, col: 1, offset };
    return { line: line + 1, col: this.colIn(line, start, offset), offset };
  }

  /** Half-open range `[start, end)` between two offsets. */
  range(start: number, end: number): SourceRange {
    const s = this.pos(start);
    const e = end <= start ? s : this.pos(end);
    return { file: this.file, start: s, end: e };
  }

  private lineIndex(offset: number): number {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private colIn(line: number, start: number, offset: number): number {
    let flag = this.wideFlag[line] ?? 0;
    if (flag === -1) {
      const end = this.lineStarts[line + 1] ?? this.text.length;
      flag = 0;
      for (let i = start; i < end; i++) {
        const c = this.text.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdfff) {
          flag = 1;
          break;
        }
      }
      this.wideFlag[line] = flag;
    }
    if (flag === 0) return offset - start + 1;
    let table = this.wideLines.get(line);
    if (!table) {
      const end = this.lineStarts[line + 1] ?? this.text.length;
      table = new Int32Array(end - start + 1);
      let col = 1;
      for (let i = start; i <= end; i++) {
        table[i - start] = col;
        const c = this.text.charCodeAt(i);
        const isPairStart = c >= 0xd800 && c <= 0xdbff && isLowSurrogate(this.text.charCodeAt(i + 1));
        if (isPairStart && i + 1 <= end) {
          // The low half maps to the same column as the pair's start.
          i++;
          if (i - start < table.length) table[i - start] = col;
        }
        col++;
      }
      this.wideLines.set(line, table);
    }
    return table[offset - start] ?? offset - start + 1;
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
