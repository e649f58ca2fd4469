/**
 * HCL native-syntax lexer.
 *
 * Clawpatrol configs only ever hold literal strings, so quoted strings and
 * heredocs are scanned here into single tokens carrying their final, unescaped
 * value; template sequences (`${`, `%{`) are reported at once instead of being
 * parsed. Everything the parser cannot use (stray characters, unterminated
 * comments) becomes a diagnostic plus, where it matters, an `invalid` token so
 * the parser can resynchronise without reporting the same mistake again.
 */
import { error, type Diagnostic } from "../diagnostics.js";
import { cpLen, identLength, isDigit, lineEnd, showChar } from "./chars.js";
import type { PositionMap } from "./positions.js";
import { StringScanner } from "./strings.js";

/** Token kinds; punctuation kinds are spelled as the punctuation itself, which keeps parser code readable. */
export type TokenKind =
  | "ident"
  | "number"
  | "string"
  | "heredoc"
  | "newline"
  | "eof"
  | "invalid"
  | "{"
  | "}"
  | "["
  | "]"
  | "("
  | ")"
  | ","
  | "="
  | ":"
  | "::"
  | "."
  | "..."
  | "?"
  | "=>"
  | "=="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">="
  | "&&"
  | "||"
  | "!"
  | "+"
  | "-"
  | "*"
  | "/"
  | "%";

/** Tokens store offsets only; line/column are computed on demand, as few tokens ever end up in a range. */
export interface Token {
  kind: TokenKind;
  /** 0-based start offset (inclusive). */
  start: number;
  /** 0-based end offset (exclusive). */
  end: number;
  /**
   * Identifiers and numbers: the source text. Strings and heredocs: the
   * unescaped value. Other kinds: the source text.
   */
  value: string;
  /**
   * Set on a string token that ran to the end of its line without a closing
   * quote (already reported): whatever the parser finds missing right after
   * it was most likely swallowed by it, so the parser stays quiet about that.
   */
  unterminated?: true;
}

/** Lexer diagnostics are returned separately so the parser can merge and sort them with its own. */
export interface LexResult {
  tokens: Token[];
  diagnostics: Diagnostic[];
  /**
   * True when an unterminated heredoc or block comment swallowed the rest of
   * the file: the parser then stays quiet about everything left open at EOF,
   * since that is a consequence of the one reported mistake.
   */
  swallowedToEof: boolean;
}

/** Three-character punctuation first, then two, then one (longest match wins). */
const PUNCT3 = new Set(["..."]);
const PUNCT2 = new Set(["=>", "==", "!=", "<=", ">=", "&&", "||", "::"]);
const PUNCT1 = new Set(["{", "}", "[", "]", "(", ")", ",", "=", ":", ".", "?", "!", "<", ">", "+", "-", "*", "/", "%"]);

/**
 * Scans a whole file. `text` is the file as read (a leading BOM is skipped);
 * offsets in tokens and diagnostics index into it.
 */
export function lex(text: string, map: PositionMap): LexResult {
  return new Lexer(text, map).run();
}

class Lexer {
  private readonly tokens: Token[] = [];
  private readonly diags: Diagnostic[] = [];
  private swallowed = false;
  private i: number;
  private readonly n: number;
  private readonly strings: StringScanner;

  constructor(
    private readonly text: string,
    private readonly map: PositionMap,
  ) {
    this.n = text.length;
    this.i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    this.strings = new StringScanner(text, (summary, detail, start, end) => this.err(summary, detail, start, end));
  }

  run(): LexResult {
    const text = this.text;
    const n = this.n;
    while (this.i < n) {
      const start = this.i;
      const c = text.charCodeAt(start);
      if (c === 32 || c === 9) {
        this.i++;
      } else if (c === 10) {
        this.push("newline", start, start + 1, "\n");
        this.i++;
      } else if (c === 13) {
        if (text.charCodeAt(start + 1) === 10) {
          this.push("newline", start, start + 2, "\n");
          this.i += 2;
        } else this.i++; // a lone CR is treated as horizontal whitespace
      } else if (c === 35 /* # */ || (c === 47 /* / */ && text.charCodeAt(start + 1) === 47)) {
        this.skipLineComment();
      } else if (c === 47 && text.charCodeAt(start + 1) === 42 /* * */) {
        this.skipBlockComment();
      } else if (c === 34 /* " */) {
        this.lexString();
      } else if (c === 60 /* < */ && text.charCodeAt(start + 1) === 60) {
        this.lexHeredoc();
      } else if (isDigit(c)) {
        this.lexNumber();
      } else if (c === 39 /* ' */) {
        this.lexSingleQuoted();
      } else {
        const idLen = identLength(text, start);
        if (idLen > 0) {
          this.push("ident", start, start + idLen, text.slice(start, start + idLen));
          this.i += idLen;
        } else if (!this.lexPunct()) {
          this.lexInvalid();
        }
      }
    }
    this.push("eof", n, n, "");
    return { tokens: this.tokens, diagnostics: this.diags, swallowedToEof: this.swallowed };
  }

  private push(kind: TokenKind, start: number, end: number, value: string): void {
    this.tokens.push({ kind, start, end, value });
  }

  private err(summary: string, detail: string, start: number, end: number): void {
    this.diags.push(error(summary, detail, this.map.range(start, end)));
  }


  private skipLineComment(): void {
    this.i = lineEnd(this.text, this.i);
  }

  private skipBlockComment(): void {
    const start = this.i;
    const close = this.text.indexOf("*/", start + 2);
    if (close === -1) {
      this.err(
        "Unterminated block comment",
        'This "/*" comment has no closing "*/" before the end of the file; add "*/" where the comment should end.',
        start,
        start + 2,
      );
      this.i = this.n;
      this.swallowed = true;
      return;
    }
    this.i = close + 2;
  }

  private lexString(): void {
    const start = this.i;
    const r = this.strings.quoted(start);
    this.push("string", start, r.end, r.value);
    if (!r.closed) (this.tokens[this.tokens.length - 1] as Token).unterminated = true;
    this.i = r.end;
  }

  private lexHeredoc(): void {
    const start = this.i;
    const r = this.strings.heredoc(start);
    if (r.kind === "invalid") {
      this.push("invalid", start, r.end, this.text.slice(start, r.end));
    } else {
      this.push("heredoc", start, r.end, r.value);
      if (r.unterminated) this.swallowed = true;
    }
    this.i = r.end;
  }

  private lexNumber(): void {
    const text = this.text;
    const start = this.i;
    let j = start;
    while (isDigit(text.charCodeAt(j))) j++;
    // After a ".", digits are a legacy index step (`a.0.1`), never a fraction.
    const prev = this.tokens[this.tokens.length - 1];
    const afterDot = prev !== undefined && prev.kind === "." && prev.end === start;
    if (!afterDot) {
      if (text.charCodeAt(j) === 46 && isDigit(text.charCodeAt(j + 1))) {
        j += 2;
        while (isDigit(text.charCodeAt(j))) j++;
      }
      const e = text.charCodeAt(j);
      if (e === 101 || e === 69) {
        let k = j + 1;
        const s = text.charCodeAt(k);
        if (s === 43 || s === 45) k++;
        if (isDigit(text.charCodeAt(k))) {
          j = k;
          while (isDigit(text.charCodeAt(j))) j++;
        }
      }
    }
    this.push("number", start, j, text.slice(start, j));
    this.i = j;
  }

  private lexPunct(): boolean {
    const text = this.text;
    const s = this.i;
    const three = text.slice(s, s + 3);
    if (PUNCT3.has(three)) {
      this.push(three as TokenKind, s, s + 3, three);
      this.i += 3;
      return true;
    }
    const two = text.slice(s, s + 2);
    if (PUNCT2.has(two)) {
      this.push(two as TokenKind, s, s + 2, two);
      this.i += 2;
      return true;
    }
    const one = text[s] ?? "";
    if (PUNCT1.has(one)) {
      this.push(one as TokenKind, s, s + 1, one);
      this.i += 1;
      return true;
    }
    return false;
  }

  /** One invalid character, or a run of them, becomes one diagnostic and one token. */
  private lexInvalid(): void {
    const text = this.text;
    const start = this.i;
    const first = text.slice(start, start + cpLen(text, start));
    let summary = "Invalid character";
    let detail: string;
    let end = start + first.length;
    if (first === ";") {
      detail = 'Semicolons are not used in HCL: put each argument or block on its own line, and separate collection items with commas.';
    } else if (first === "&") {
      detail = 'Bitwise operators are not supported; for a logical AND write "&&".';
    } else if (first === "|") {
      detail = 'Bitwise operators are not supported; for a logical OR write "||".';
    } else if (first === "`") {
      detail = 'Backticks are not valid in HCL; enclose strings in double quotes (").';
    } else {
      // Swallow a run of characters that cannot start any token.
      while (end < this.n && this.isPlainInvalidAt(end)) end += cpLen(text, end);
      const runNote = end - start > first.length ? " (and the characters after it)" : "";
      detail = `The character ${showChar(first)}${runNote} cannot appear here; remove it, or put it inside a quoted string.`;
      if (first === "\u00a0" || first === "\u200b" || first === "\ufeff") {
        detail += " It is an invisible space-like character, often pasted in by accident.";
      }
    }
    this.err(summary, detail, start, end);
    this.push("invalid", start, end, text.slice(start, end));
    this.i = end;
  }

  private isPlainInvalidAt(i: number): boolean {
    const text = this.text;
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || isDigit(c)) return false;
    const ch = text.slice(i, i + cpLen(text, i));
    if ("#/\"'<;&|`".includes(ch) || PUNCT1.has(ch)) return false;
    return identLength(text, i) === 0;
  }

  /** `'text'` — a common mistake; report it once and keep the text as a string. */
  private lexSingleQuoted(): void {
    const text = this.text;
    const start = this.i;
    const eol = lineEnd(this.text, start);
    const close = text.indexOf("'", start + 1);
    const end = close !== -1 && close < eol ? close + 1 : start + 1;
    this.err(
      "Invalid character",
      'Single quotes are not valid in HCL; enclose strings in double quotes (").',
      start,
      end,
    );
    if (end === start + 1) {
      this.push("invalid", start, end, "'");
    } else {
      this.push("string", start, end, text.slice(start + 1, end - 1));
    }
    this.i = end;
  }
}
