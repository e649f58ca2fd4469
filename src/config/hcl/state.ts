/**
 * Shared cursor and error bookkeeping for the body and expression parsers.
 *
 * Error policy, in one place so both parsers follow it:
 * - `fail` counts every failure, but stays silent when the offending token is
 *   an `invalid` token (the lexer already reported it) — so one stray
 *   character never yields two diagnostics.
 * - Callers compare `failures` before/after parsing an item; when it grew they
 *   resynchronise silently instead of reporting follow-on errors.
 * - Problems discovered at end of file ("unclosed ...") are reported at most
 *   once, and not at all when an unterminated heredoc or comment already
 *   swallowed the rest of the file.
 */
import { error, type Diagnostic, type SourceRange } from "../diagnostics.js";
import type { Token, TokenKind } from "./lexer.js";
import type { PositionMap } from "./positions.js";
import type { UnsupportedExpr } from "./ast.js";

/**
 * `what` of the placeholder left where an expression failed to parse. The
 * error is already reported, so consumers should skip such values quietly
 * (see `isParseErrorPlaceholder` in ./index.ts).
 */
export const INVALID_EXPRESSION = "invalid expression";

/** Maximum nesting of blocks and expressions before parsing gives up on a construct. */
export const MAX_DEPTH = 256;

const OPENERS: ReadonlySet<TokenKind> = new Set<TokenKind>(["{", "[", "("]);
const CLOSERS: ReadonlySet<TokenKind> = new Set<TokenKind>(["}", "]", ")"]);

/** One per parse: the body and expression parsers share it so error policy and depth limits apply across both. */
export class ParserState {
  private i = 0;
  /** Index of the last consumed token, or -1. */
  private last = -1;
  /** Stack of "are newlines significant here" flags. */
  private readonly nlStack: boolean[] = [true];
  readonly diagnostics: Diagnostic[] = [];
  /** Every failure, reported or not; see the module comment. */
  failures = 0;
  depth = 0;
  private depthReported = false;
  private eofReported: boolean;

  constructor(
    readonly tokens: Token[],
    readonly map: PositionMap,
    swallowedToEof: boolean,
  ) {
    this.eofReported = swallowedToEof;
  }

  get file(): string {
    return this.map.file;
  }

  /** Next token, skipping newlines when they are insignificant in the current context. */
  peek(): Token {
    if (!this.newlinesSignificant()) {
      while (this.tokAt(this.i).kind === "newline") this.i++;
    }
    return this.tokAt(this.i);
  }

  /** The token right after `peek()`'s, without skipping newlines. */
  peekRawNext(): Token {
    this.peek();
    return this.tokAt(this.i + 1);
  }

  /** Raw token `k` positions after the cursor (newlines included). */
  peekRaw(k = 0): Token {
    return this.tokAt(this.i + k);
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== "eof") {
      this.last = this.i;
      this.i++;
    }
    return t;
  }

  /** Index of the cursor, for progress checks. */
  get index(): number {
    return this.i;
  }

  /** End offset of the last consumed token (start of file if none). */
  get lastEnd(): number {
    return this.last >= 0 ? this.tokAt(this.last).end : 0;
  }

  /** Whether a newline token lies between the last consumed token and the cursor. */
  skippedNewlineIndex(): number {
    for (let k = this.last + 1; k < this.i; k++) if (this.tokAt(k).kind === "newline") return k;
    return -1;
  }

  /** Moves the cursor back to a skipped newline (see {@link skippedNewlineIndex}). */
  rewindTo(index: number): void {
    if (index > this.last && index <= this.i) this.i = index;
  }

  newlinesSignificant(): boolean {
    return this.nlStack[this.nlStack.length - 1] ?? true;
  }

  /** Runs `fn` with newline significance set, restoring it afterwards. */
  withNewlines<T>(significant: boolean, fn: () => T): T {
    this.nlStack.push(significant);
    try {
      return fn();
    } finally {
      this.nlStack.pop();
    }
  }

  range(start: number, end: number): SourceRange {
    return this.map.range(start, end);
  }

  tokRange(t: Token): SourceRange {
    return this.map.range(t.start, t.end);
  }

  /** Records a failure at `at`; reports it unless the lexer already did. */
  fail(at: Token | SourceRange, summary: string, detail: string): void {
    this.failures++;
    if ("kind" in at) {
      if (at.kind === "invalid") return;
      this.diagnostics.push(error(summary, detail, this.tokRange(at)));
    } else {
      this.diagnostics.push(error(summary, detail, at));
    }
  }

  /**
   * Whether the last consumed token is a string the lexer reported as
   * unterminated: a problem right after it is a consequence, not news.
   */
  afterUnterminatedString(): boolean {
    return this.last >= 0 && this.tokAt(this.last).unterminated === true;
  }

  /** Records a failure without reporting it (its cause was reported already). */
  failQuietly(): void {
    this.failures++;
  }

  /** Like {@link fail}, for problems found at end of file: reported once at most. */
  failAtEof(range: SourceRange, summary: string, detail: string): void {
    this.failures++;
    if (this.eofReported) return;
    this.eofReported = true;
    this.diagnostics.push(error(summary, detail, range));
  }

  /** Reports "too deeply nested" once per file. */
  failDepth(at: Token): void {
    this.failures++;
    if (this.depthReported) return;
    this.depthReported = true;
    this.diagnostics.push(
      error(
        "Nesting too deep",
        `Blocks and expressions may nest at most ${MAX_DEPTH} levels deep; flatten this structure.`,
        this.tokRange(at),
      ),
    );
  }

  /** Placeholder for an expression that failed to parse (already reported). */
  invalidExpr(start: number, end: number): UnsupportedExpr {
    return { kind: "unsupported", what: INVALID_EXPRESSION, range: this.range(start, Math.max(start, end)) };
  }

  /**
   * Skips tokens until one of `stops` at bracket depth 0 (not consumed) or EOF.
   * Brackets opened along the way are skipped through their matching closer,
   * so a bad line containing `{ ... }` is dropped whole. Stray closers at depth
   * 0 that are not stops are consumed. Works on raw tokens, so `newline` may be
   * a stop. Always terminates: every step consumes a token.
   */
  skipUntil(stops: ReadonlySet<TokenKind>): void {
    let depth = 0;
    for (;;) {
      const t = this.tokAt(this.i);
      if (t.kind === "eof") return;
      if (depth === 0 && stops.has(t.kind)) return;
      if (OPENERS.has(t.kind)) depth++;
      else if (CLOSERS.has(t.kind) && depth > 0) depth--;
      this.last = this.i;
      this.i++;
    }
  }

  /** Skips one token, or a whole bracketed group if the cursor is on an opener. */
  skipGroup(): void {
    const t = this.tokAt(this.i);
    if (t.kind === "eof") return;
    this.last = this.i;
    this.i++;
    if (!OPENERS.has(t.kind)) return;
    let depth = 1;
    while (depth > 0) {
      const u = this.tokAt(this.i);
      if (u.kind === "eof") return;
      if (OPENERS.has(u.kind)) depth++;
      else if (CLOSERS.has(u.kind)) depth--;
      this.last = this.i;
      this.i++;
    }
  }

  private tokAt(k: number): Token {
    const toks = this.tokens;
    return toks[k] ?? (toks[toks.length - 1] as Token);
  }
}

/** `kind` sets used as resynchronisation points. */
export function kinds(...ks: TokenKind[]): ReadonlySet<TokenKind> {
  return new Set(ks);
}
