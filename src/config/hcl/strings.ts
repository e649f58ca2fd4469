/**
 * Scanning of quoted strings and heredocs into their final literal values.
 *
 * Clawpatrol configs take literal strings only, so instead of producing
 * template parts this resolves escapes (`\n`, `\uNNNN`, `$${`, `%%{`, ...)
 * and heredoc indentation right away, and reports template sequences (`${`,
 * `%{`) as errors at their `$`/`%`.
 */
import { cpLen, isHex, isIndentChar, identLength, lineEnd } from "./chars.js";

const TEMPLATE_DETAIL_INTERP =
  'Clawpatrol configs take literal strings; "${ ... }" interpolation is not evaluated. ' +
  'Remove the sequence, or write "$${" to put a literal "${" in the text.';
const TEMPLATE_DETAIL_DIRECTIVE =
  'Clawpatrol configs take literal strings; "%{ ... }" template directives are not evaluated. ' +
  'Remove the sequence, or write "%%{" to put a literal "%{" in the text.';

/** Receives each problem found while scanning (offsets into the text). */
export type Report = (summary: string, detail: string, start: number, end: number) => void;

/** An `invalid` result means `<<` was not followed by a delimiter name; the caller emits an invalid token. */
export type HeredocScan =
  | { kind: "invalid"; end: number }
  | { kind: "heredoc"; end: number; value: string; unterminated: boolean };

/**
 * Kept apart from the main lexer loop because string and heredoc bodies have
 * their own rules (escapes, template sequences, line-based termination).
 */
export class StringScanner {
  private readonly n: number;

  constructor(
    private readonly text: string,
    private readonly report: Report,
  ) {
    this.n = text.length;
  }

  private err(summary: string, detail: string, start: number, end: number): void {
    this.report(summary, detail, start, end);
  }

  /** A quoted string starting at the `"` at `start`; ends before the line break if unterminated. */
  quoted(start: number): { end: number; value: string; closed: boolean } {
    const text = this.text;
    let i = start + 1;
    let out = "";
    let closed = false;
    while (i < this.n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        closed = true;
        break;
      }
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) === 10)) break;
      if (c === 92 /* \ */) {
        const r = this.escape(i);
        out += r.value;
        i = r.next;
        continue;
      }
      if ((c === 36 || c === 37) && text.charCodeAt(i + 1) === 123) {
        const end = this.templateEnd(i, true);
        this.templateError(c, i, end.matched ? end.at : i + 2);
        out += text.slice(i, end.at);
        i = end.at;
        if (!end.matched) {
          closed = true; // the line was consumed; do not also report an unterminated string
          break;
        }
        continue;
      }
      if ((c === 36 || c === 37) && text.charCodeAt(i + 1) === c && text.charCodeAt(i + 2) === 123) {
        out += c === 36 ? "${" : "%{";
        i += 3;
        continue;
      }
      const len = cpLen(text, i);
      out += text.slice(i, i + len);
      i += len;
    }
    if (!closed) {
      this.err(
        "Unterminated template string",
        'This quoted string has no closing quote on its line. Quoted strings cannot span lines: add the closing ", or use a heredoc (<<-EOT) for multi-line text.',
        start,
        i,
      );
    }
    return { end: i, value: out, closed };
  }

  /** Handles one backslash escape at `i`; reports invalid ones. */
  private escape(i: number): { value: string; next: number } {
    const text = this.text;
    const e = text[i + 1] ?? "";
    switch (e) {
      case "n":
        return { value: "\n", next: i + 2 };
      case "r":
        return { value: "\r", next: i + 2 };
      case "t":
        return { value: "\t", next: i + 2 };
      case '"':
        return { value: '"', next: i + 2 };
      case "\\":
        return { value: "\\", next: i + 2 };
      case "u":
      case "U": {
        const want = e === "u" ? 4 : 8;
        let j = i + 2;
        while (j < i + 2 + want && isHex(text.charCodeAt(j))) j++;
        if (j - (i + 2) === want) {
          const cp = parseInt(text.slice(i + 2, j), 16);
          if (cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
            return { value: String.fromCodePoint(cp), next: j };
          }
          this.err(
            "Invalid escape sequence",
            `"${text.slice(i, j)}" is not a valid Unicode character; use a code point up to 10FFFF outside the surrogate range D800-DFFF.`,
            i,
            j,
          );
          return { value: "\ufffd", next: j };
        }
        this.err(
          "Invalid escape sequence",
          `"\\${e}" must be followed by exactly ${want} hexadecimal digits, e.g. ${e === "u" ? "\\u00e9" : "\\U0001F600"}.`,
          i,
          j,
        );
        return { value: "", next: j };
      }
      default: {
        if (e === "" || e === "\n" || e === "\r") {
          this.err(
            "Invalid escape sequence",
            'A backslash at the end of a line does not continue the string; write "\\\\" for a literal backslash, or use a heredoc for multi-line text.',
            i,
            i + 1,
          );
          return { value: "", next: i + 1 };
        }
        const len = cpLen(text, i + 1);
        const shown = text.slice(i, i + 1 + len);
        this.err(
          "Invalid escape sequence",
          `The escape "${shown}" is not valid. Valid escapes are \\n, \\r, \\t, \\", \\\\, \\uNNNN and \\UNNNNNNNN; write "\\\\" for a literal backslash.`,
          i,
          i + 1 + len,
        );
        return { value: text.slice(i + 1, i + 1 + len), next: i + 1 + len };
      }
    }
  }

  /**
   * Finds the `}` matching the template sequence opened at `i` (`${` or `%{`),
   * without crossing a line end. Nested quoted strings are skipped so their
   * quotes do not end the enclosing string.
   */
  private templateEnd(i: number, inQuoted: boolean): { at: number; matched: boolean } {
    const text = this.text;
    const eol = lineEnd(text, i);
    let depth = 1;
    let j = i + 2;
    while (j < eol) {
      const c = text.charCodeAt(j);
      if (c === 123) depth++;
      else if (c === 125) {
        depth--;
        if (depth === 0) return { at: j + 1, matched: true };
      } else if (c === 34) {
        j++;
        while (j < eol && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
        if (j >= eol) break;
      }
      j++;
    }
    // Unmatched: in a quoted string the rest of the line is lost to it; in a
    // heredoc only the opening sequence is consumed.
    return { at: inQuoted ? Math.min(j, eol) : i + 2, matched: false };
  }

  private templateError(c: number, start: number, end: number): void {
    if (c === 36) this.err("Template interpolation is not supported", TEMPLATE_DETAIL_INTERP, start, end);
    else this.err("Template directive is not supported", TEMPLATE_DETAIL_DIRECTIVE, start, end);
  }

  /** A heredoc starting at the `<<` at `start`. */
  heredoc(start: number): HeredocScan {
    const text = this.text;
    let j = start + 2;
    const flush = text.charCodeAt(j) === 45;
    if (flush) j++;
    const idLen = identLength(text, j);
    if (idLen === 0) {
      const end = j;
      this.err(
        "Invalid heredoc",
        'A heredoc starts with "<<" or "<<-" followed directly by a delimiter name and a newline, e.g. "<<-EOT".',
        start,
        end,
      );
      return { kind: "invalid", end };
    }
    const delim = text.slice(j, j + idLen);
    const openerEnd = j + idLen;
    const eol = lineEnd(text, openerEnd);
    let k = openerEnd;
    while (k < eol && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
    if (k < eol) {
      this.err(
        "Invalid heredoc",
        `The heredoc marker must end its line; move the text after "${text.slice(start, openerEnd)}" onto the next line.`,
        k,
        eol,
      );
    }
    // Content lines follow the opener's line.
    const lines: { start: number; end: number }[] = [];
    let lineStart = eol < this.n ? text.indexOf("\n", eol) + 1 : this.n;
    let closeStart = -1;
    while (lineStart < this.n) {
      const end = lineEnd(text, lineStart);
      let p = lineStart;
      while (p < end && (text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9)) p++;
      if (text.startsWith(delim, p)) {
        let q = p + delim.length;
        while (q < end && (text.charCodeAt(q) === 32 || text.charCodeAt(q) === 9)) q++;
        if (q === end) {
          closeStart = p;
          break;
        }
      }
      lines.push({ start: lineStart, end });
      const nl = text.indexOf("\n", end);
      if (nl === -1) break;
      lineStart = nl + 1;
    }
    let tokenEnd: number;
    if (closeStart === -1) {
      this.err(
        "Unterminated heredoc",
        `There is no closing "${delim}" line for this heredoc before the end of the file; end it with a line containing only ${delim}.`,
        start,
        openerEnd,
      );
      tokenEnd = this.n;
    } else {
      tokenEnd = closeStart + delim.length;
    }
    return { kind: "heredoc", end: tokenEnd, value: this.heredocValue(lines, flush), unterminated: closeStart === -1 };
  }

  /** Builds a heredoc's value: optional indentation stripping, then escapes. */
  private heredocValue(lines: { start: number; end: number }[], flush: boolean): string {
    const text = this.text;
    let strip = 0;
    if (flush) {
      // HCL: lines that are entirely whitespace do not count towards the
      // common indentation and are kept as written.
      let min = Infinity;
      for (const l of lines) {
        let p = l.start;
        let count = 0;
        while (p < l.end) {
          const len = cpLen(text, p);
          if (!isIndentChar(text.slice(p, p + len))) break;
          p += len;
          count++;
        }
        if (p < l.end && count < min) min = count;
      }
      strip = min === Infinity ? 0 : min;
    }
    let out = "";
    for (const l of lines) {
      let p = l.start;
      if (strip > 0) {
        let q = p;
        let count = 0;
        while (q < l.end && count < strip) {
          const len = cpLen(text, q);
          if (!isIndentChar(text.slice(q, q + len))) break;
          q += len;
          count++;
        }
        // Whitespace-only lines are kept as written (see above).
        if (!this.isBlank(l.start, l.end)) p = q;
      }
      out += this.heredocLine(p, l.end) + "\n";
    }
    return out;
  }

  private isBlank(from: number, to: number): boolean {
    for (let p = from; p < to; p += cpLen(this.text, p)) {
      if (!isIndentChar(this.text.slice(p, p + cpLen(this.text, p)))) return false;
    }
    return true;
  }

  /** Unescapes `$${`/`%%{` in one heredoc line and reports template sequences. */
  private heredocLine(from: number, to: number): string {
    const text = this.text;
    let out = "";
    let i = from;
    let chunk = from;
    while (i < to) {
      const c = text.charCodeAt(i);
      if ((c === 36 || c === 37) && text.charCodeAt(i + 1) === 123) {
        const end = this.templateEnd(i, false);
        this.templateError(c, i, end.matched ? end.at : i + 2);
        i = end.at;
        continue;
      }
      if ((c === 36 || c === 37) && text.charCodeAt(i + 1) === c && text.charCodeAt(i + 2) === 123) {
        out += text.slice(chunk, i + 1) + "{";
        i += 3;
        chunk = i;
        continue;
      }
      i++;
    }
    return out + text.slice(chunk, to);
  }
}
