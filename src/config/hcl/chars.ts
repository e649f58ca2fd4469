/**
 * Character classification shared by the lexer and the string scanner.
 * Works on UTF-16 strings but steps over whole code points, so identifiers
 * and columns treat astral characters as single characters.
 */

const ID_START = /[\p{ID_Start}_]/u;
const ID_CONTINUE = /[\p{ID_Continue}_-]/u;

function isAsciiIdStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isAsciiIdContinue(c: number): boolean {
  return isAsciiIdStart(c) || (c >= 48 && c <= 57) || c === 45;
}
/** ASCII digit test on a UTF-16 code unit (HCL numbers are ASCII-only). */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** ASCII hex digit test, for `\u` / `\U` escapes. */
export function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
/** Horizontal whitespace inside heredoc lines (HCL counts any Unicode space). */
export function isIndentChar(ch: string): boolean {
  return ch === " " || ch === "\t" || (ch !== "\n" && ch !== "\r" && /\s/u.test(ch));
}

/** Length in UTF-16 units of the code point at `i`. */
export function cpLen(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** Identifier length at `i`, or 0 when no identifier starts there. */
export function identLength(text: string, i: number): number {
  const n = text.length;
  if (i >= n) return 0;
  const c = text.charCodeAt(i);
  let j: number;
  if (isAsciiIdStart(c)) j = i + 1;
  else if (c < 128) return 0;
  else {
    const len = cpLen(text, i);
    if (!ID_START.test(text.slice(i, i + len))) return 0;
    j = i + len;
  }
  while (j < n) {
    const d = text.charCodeAt(j);
    if (isAsciiIdContinue(d)) {
      j++;
      continue;
    }
    if (d < 128) break;
    const len = cpLen(text, j);
    if (!ID_CONTINUE.test(text.slice(j, j + len))) break;
    j += len;
  }
  return j - i;
}

/** Printable form of a character for diagnostics. */
export function showChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) || /\s/u.test(ch) || cp === 0xfeff) {
    return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return `"${ch}"`;
}

/**
 * Scans a whole file. `text` is the file as read (a leading BOM is skipped);
 * offsets in tokens and diagnostics index into it.

/** Offset where the line containing `i` ends: its `\n`, or the `\r` of a `\r\n`, or the end of text. */
export function lineEnd(text: string, i: number): number {
  const nl = text.indexOf("\n", i);
  if (nl === -1) return text.length;
  return nl > i && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
}
