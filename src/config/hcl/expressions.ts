/**
 * Expression parser for HCL native syntax.
 *
 * It accepts the whole HCL expression grammar with the usual precedence
 * (so a config using an operator or a conditional still parses around it), but
 * only builds detailed nodes for what clawpatrol configs use: literals,
 * strings, tuples, objects, references and function calls. Everything else
 * becomes an `UnsupportedExpr` for the loader to reject with context.
 *
 * Newlines end an expression except inside `(...)`, `[...]` and function
 * arguments, as in HCL; objects are newline-sensitive (items may be separated
 * by newlines).
 */
import type { Expr, LiteralExpr, ObjectItem, TraversalExpr, TraversalStep, UnsupportedExpr } from "./ast.js";
import type { Token, TokenKind } from "./lexer.js";
import { MAX_DEPTH, kinds, type ParserState } from "./state.js";

const BINARY_LEVEL: Partial<Record<TokenKind, number>> = {
  "||": 1,
  "&&": 2,
  "==": 3,
  "!=": 3,
  "<": 4,
  "<=": 4,
  ">": 4,
  ">=": 4,
  "+": 5,
  "-": 5,
  "*": 6,
  "/": 6,
  "%": 6,
};

const SYNC_TUPLE = kinds(",", "]", "}");
const SYNC_CALL = kinds(",", ")", "}");
const SYNC_PAREN = kinds(")", "}");
const SYNC_INDEX = kinds("]", "}");
const SYNC_OBJECT = kinds(",", "newline", "}");

/** Parses one expression at the cursor. On failure returns an "invalid expression" placeholder. */
export function parseExpression(p: ParserState): Expr {
  const t = p.peek();
  if (p.depth >= MAX_DEPTH) {
    p.failDepth(t);
    if (t.kind !== "newline" && t.kind !== "eof") p.skipGroup();
    return p.invalidExpr(t.start, p.lastEnd);
  }
  p.depth++;
  try {
    return parseConditional(p);
  } finally {
    p.depth--;
  }
}

function unsupported(p: ParserState, what: string, start: number): UnsupportedExpr {
  return { kind: "unsupported", what, range: p.range(start, Math.max(start, p.lastEnd)) };
}

function parseConditional(p: ParserState): Expr {
  const start = p.peek().start;
  const before = p.failures;
  const cond = parseBinary(p, 1);
  if (p.failures !== before || p.peek().kind !== "?") return cond;
  p.next();
  parseExpression(p);
  if (p.failures !== before) return p.invalidExpr(start, p.lastEnd);
  const colon = p.peek();
  if (colon.kind !== ":") {
    p.fail(colon, "Missing false expression in conditional", 'A conditional "a ? b : c" needs ":" and a false value after the true value.');
    return p.invalidExpr(start, p.lastEnd);
  }
  p.next();
  parseExpression(p);
  if (p.failures !== before) return p.invalidExpr(start, p.lastEnd);
  return unsupported(p, "conditional", start);
}

function parseBinary(p: ParserState, minLevel: number): Expr {
  const start = p.peek().start;
  const before = p.failures;
  let left = parseUnary(p);
  for (;;) {
    if (p.failures !== before) return left;
    const op = p.peek();
    const level = BINARY_LEVEL[op.kind];
    if (level === undefined || level < minLevel) return left;
    p.next();
    parseBinary(p, level + 1);
    left = p.failures !== before ? p.invalidExpr(start, p.lastEnd) : unsupported(p, "binary operator", start);
  }
}

function parseUnary(p: ParserState): Expr {
  const t = p.peek();
  if (t.kind !== "-" && t.kind !== "!") return parsePostfix(p, t.start, parseTerm(p), false);
  p.next();
  const operand = p.peek();
  if (t.kind === "-" && operand.kind === "number") {
    p.next();
    const lit: LiteralExpr = {
      kind: "literal",
      value: -Number(operand.value),
      raw: p.map.text.slice(t.start, operand.end),
      range: p.range(t.start, operand.end),
    };
    return parsePostfix(p, t.start, lit, false);
  }
  if (p.depth >= MAX_DEPTH) {
    p.failDepth(operand);
    return p.invalidExpr(t.start, p.lastEnd);
  }
  const before = p.failures;
  p.depth++;
  try {
    parseUnary(p);
  } finally {
    p.depth--;
  }
  return p.failures !== before ? p.invalidExpr(t.start, p.lastEnd) : unsupported(p, "unary operator", t.start);
}

function describe(t: Token): string {
  switch (t.kind) {
    case "newline":
      return "the end of the line";
    case "eof":
      return "the end of the file";
    default: {
      const v = t.value.length > 20 ? `${t.value.slice(0, 20)}...` : t.value;
      return `"${v}"`;
    }
  }
}

function parseTerm(p: ParserState): Expr {
  const t = p.peek();
  switch (t.kind) {
    case "number":
      p.next();
      return { kind: "literal", value: Number(t.value), raw: t.value, range: p.tokRange(t) };
    case "string":
    case "heredoc":
      p.next();
      return { kind: "template", value: t.value, heredoc: t.kind === "heredoc", range: p.tokRange(t) };
    case "ident": {
      if (t.value === "true" || t.value === "false" || t.value === "null") {
        p.next();
        const value = t.value === "null" ? null : t.value === "true";
        return { kind: "literal", value, raw: t.value, range: p.tokRange(t) };
      }
      const after = p.peekRawNext().kind;
      if (after === "(" || after === "::") return parseCall(p);
      p.next();
      const root: TraversalExpr = {
        kind: "traversal",
        root: t.value,
        rootRange: p.tokRange(t),
        steps: [],
        range: p.tokRange(t),
      };
      return root;
    }
    case "(":
      return parseParens(p);
    case "[":
      return parseTuple(p);
    case "{":
      return parseObject(p);
    default:
      p.fail(
        t,
        "Invalid expression",
        `Expected a value here (a quoted string, number, bool, reference, tuple or object), but found ${describe(t)}.`,
      );
      return p.invalidExpr(t.start, t.start);
  }
}

/** Attribute access, indexing and splats after a term. */
function parsePostfix(p: ParserState, start: number, base: Expr, parenthesised: boolean): Expr {
  const steps: TraversalStep[] = [];
  let splat = false;
  const before = p.failures;
  for (;;) {
    const t = p.peek();
    if (t.kind === ".") {
      p.next();
      const u = p.peek();
      if (u.kind === "ident") {
        p.next();
        steps.push({ kind: "attr", name: u.value, range: p.range(t.start, u.end) });
      } else if (u.kind === "number") {
        // Legacy index syntax `a.0`; the lexer never reads a fraction after ".".
        p.next();
        const key: LiteralExpr = { kind: "literal", value: Number(u.value), raw: u.value, range: p.tokRange(u) };
        steps.push({ kind: "index", key, range: p.range(t.start, u.end) });
      } else if (u.kind === "*") {
        p.next();
        splat = true;
      } else {
        p.fail(u, "Invalid attribute name", 'An attribute name is required after a dot, as in "https.github-api".');
        return p.invalidExpr(start, p.lastEnd);
      }
      continue;
    }
    if (t.kind === "[") {
      p.next();
      const ok = p.withNewlines(false, () => {
        if (p.peek().kind === "*" && p.peekRawNext().kind === "]") {
          p.next();
          p.next();
          splat = true;
          return true;
        }
        const mark = p.failures;
        const key = parseExpression(p);
        if (p.failures !== mark) {
          p.skipUntil(SYNC_INDEX);
          if (p.peek().kind === "]") p.next();
          return false;
        }
        if (!closeBracket(p, t, "]", "index", SYNC_INDEX)) return false;
        steps.push({ kind: "index", key, range: p.range(t.start, p.lastEnd) });
        return true;
      });
      if (!ok) return p.invalidExpr(start, p.lastEnd);
      continue;
    }
    break;
  }
  if (p.failures !== before) return p.invalidExpr(start, p.lastEnd);
  if (splat) return unsupported(p, "splat expression", start);
  if (steps.length === 0) return base;
  if (base.kind === "traversal" && !parenthesised) {
    base.steps.push(...steps);
    base.range = p.range(base.range.start.offset, p.lastEnd);
    return base;
  }
  return unsupported(p, "attribute or index access on a computed value", start);
}

const WHAT_LABEL: Record<string, string> = {
  tuple: "Unclosed tuple",
  "function call": "Unclosed function call",
  parenthesis: "Unbalanced parentheses",
  index: "Unclosed index",
  object: "Unclosed object",
  "for expression": "Unclosed for expression",
};

/** Reports a bracket that was never closed, pointing at the opener. */
function reportUnclosed(p: ParserState, open: Token, closer: string, what: string, atEof: boolean): void {
  const summary = WHAT_LABEL[what] ?? "Unclosed bracket";
  const where = p.tokRange(open).start;
  const detail = `The "${open.value}" at line ${where.line}, column ${where.col} has no matching "${closer}"; add "${closer}" where this ${what} should end.`;
  if (atEof) p.failAtEof(p.tokRange(open), summary, detail);
  else p.fail(p.tokRange(open), summary, detail);
}

/**
 * In a newline-insensitive context, a line that starts like a body item
 * (`name = ...`, `type "label" {`) after a newline means the bracket was never
 * closed: report that once and hand the line back to the body parser.
 */
function unclosedBeforeBodyItem(p: ParserState): boolean {
  const nl = p.skippedNewlineIndex();
  if (nl < 0) return false;
  const t = p.peek();
  if (t.kind !== "ident") return false;
  const u = p.peekRawNext().kind;
  if (u !== "=" && u !== "{" && u !== "string" && u !== "ident") return false;
  p.rewindTo(nl);
  return true;
}

/** Expects `closer`; on anything else reports and resynchronises. Returns whether it closed. */
function closeBracket(p: ParserState, open: Token, closer: "]" | ")", what: string, sync: ReadonlySet<TokenKind>): boolean {
  const t = p.peek();
  if (t.kind === closer) {
    p.next();
    return true;
  }
  if (t.kind === "eof") {
    reportUnclosed(p, open, closer, what, true);
    return false;
  }
  if (t.kind === "}" || unclosedBeforeBodyItem(p)) {
    reportUnclosed(p, open, closer, what, false);
    return false;
  }
  p.fail(t, "Invalid expression", `Expected "${closer}" to end the ${what}, but found ${describe(t)}.`);
  p.skipUntil(sync);
  if (p.peek().kind === closer) p.next();
  return false;
}

function parseParens(p: ParserState): Expr {
  const open = p.next();
  return p.withNewlines(false, () => {
    const before = p.failures;
    const inner = parseExpression(p);
    if (p.failures !== before) {
      p.skipUntil(SYNC_PAREN);
      if (p.peek().kind === ")") p.next();
      return p.invalidExpr(open.start, p.lastEnd);
    }
    if (!closeBracket(p, open, ")", "parenthesis", SYNC_PAREN)) return p.invalidExpr(open.start, p.lastEnd);
    return parsePostfix(p, open.start, inner, true);
  });
}

/**
 * Comma-separated items up to `closer` (tuples and call arguments). Trailing
 * comma allowed; `...` after the last call argument is accepted.
 */
function parseList(p: ParserState, open: Token, closer: "]" | ")", what: string): { items: Expr[] } {
  const sync = closer === "]" ? SYNC_TUPLE : SYNC_CALL;
  const items: Expr[] = [];
  let needSep = false;
  let reported = false;
  for (;;) {
    const t = p.peek();
    if (t.kind === closer) {
      p.next();
      return { items };
    }
    if (t.kind === "eof" || t.kind === "}") {
      if (!reported) reportUnclosed(p, open, closer, what, t.kind === "eof");
      else p.failures++;
      return { items };
    }
    if (needSep) {
      if (t.kind === ",") {
        p.next();
        needSep = false;
        continue;
      }
      if (t.kind === "..." && closer === ")") {
        p.next();
        continue; // must be followed by ")": anything else is reported next round
      }
    }
    if (unclosedBeforeBodyItem(p)) {
      if (!reported) reportUnclosed(p, open, closer, what, false);
      else p.failures++;
      return { items };
    }
    if (needSep) {
      const sep = closer === "]" ? "Missing item separator" : "Missing argument separator";
      p.fail(t, sep, `Expected a comma before the next ${closer === "]" ? "item" : "argument"}, or "${closer}" to end the ${what}.`);
      reported = true;
      p.skipUntil(sync);
      continue; // still needSep: a "," found by the skip is consumed next round
    }
    const mark = p.failures;
    items.push(parseExpression(p));
    if (p.failures !== mark) {
      reported = true;
      p.skipUntil(sync);
    }
    needSep = true;
  }
}

function parseTuple(p: ParserState): Expr {
  const open = p.next();
  return p.withNewlines(false, () => {
    if (isForIntro(p)) return parseFor(p, open, "]");
    // A tuple with a broken item keeps its well-formed items (the error is already reported).
    const { items } = parseList(p, open, "]", "tuple");
    return { kind: "tuple", items, range: p.range(open.start, p.lastEnd) };
  });
}

function parseCall(p: ParserState): Expr {
  const nameTok = p.next();
  let name = nameTok.value;
  while (p.peekRaw().kind === "::") {
    p.next();
    const part = p.peekRaw();
    if (part.kind !== "ident") {
      p.fail(part, "Invalid function name", 'Expected a name after "::", as in "provider::namespace::name(...)".');
      return p.invalidExpr(nameTok.start, p.lastEnd);
    }
    p.next();
    name += `::${part.value}`;
  }
  const open = p.peekRaw();
  if (open.kind !== "(") {
    p.fail(open, "Missing function arguments", `Expected "(" and the arguments after the function name "${name}".`);
    return p.invalidExpr(nameTok.start, p.lastEnd);
  }
  p.next();
  return p.withNewlines(false, () => {
    const { items } = parseList(p, open, ")", "function call");
    return { kind: "call" as const, name, args: items, range: p.range(nameTok.start, p.lastEnd) };
  });
}

function isForIntro(p: ParserState): boolean {
  const t = p.peek();
  return t.kind === "ident" && t.value === "for" && p.peekRawNext().kind === "ident";
}

/** `[for ...]` / `{for ...}`: validated for shape, then reported as unsupported. */
function parseFor(p: ParserState, open: Token, closer: "]" | "}"): Expr {
  return p.withNewlines(false, () => {
    const before = p.failures;
    const fail = (t: Token, detail: string): Expr => {
      p.fail(t, "Invalid for expression", detail);
      p.skipUntil(kinds(closer, "}"));
      if (p.peek().kind === closer) p.next();
      return p.invalidExpr(open.start, p.lastEnd);
    };
    const sub = (): boolean => {
      parseExpression(p);
      if (p.failures === before) return true;
      p.skipUntil(kinds(closer, "}"));
      if (p.peek().kind === closer) p.next();
      return false;
    };
    p.next(); // "for"
    p.next(); // first variable (checked by isForIntro)
    if (p.peek().kind === ",") {
      p.next();
      const v = p.peek();
      if (v.kind !== "ident") return fail(v, 'Expected a second variable name after "," in the for expression.');
      p.next();
    }
    const inKw = p.peek();
    if (inKw.kind !== "ident" || inKw.value !== "in") return fail(inKw, 'Expected "in" after the for expression variables.');
    p.next();
    if (!sub()) return p.invalidExpr(open.start, p.lastEnd);
    const colon = p.peek();
    if (colon.kind !== ":") return fail(colon, 'Expected ":" after the collection in the for expression.');
    p.next();
    if (!sub()) return p.invalidExpr(open.start, p.lastEnd);
    if (closer === "}") {
      const arrow = p.peek();
      if (arrow.kind !== "=>") return fail(arrow, 'An object for expression needs "=>" between the key and the value.');
      p.next();
      if (!sub()) return p.invalidExpr(open.start, p.lastEnd);
      if (p.peek().kind === "...") p.next();
    }
    const cond = p.peek();
    if (cond.kind === "ident" && cond.value === "if") {
      p.next();
      if (!sub()) return p.invalidExpr(open.start, p.lastEnd);
    }
    const end = p.peek();
    if (end.kind !== closer) {
      if (end.kind === "eof") {
        reportUnclosed(p, open, closer, "for expression", true);
        return p.invalidExpr(open.start, p.lastEnd);
      }
      return fail(end, `Expected "${closer}" to end the for expression, but found ${describe(end)}.`);
    }
    p.next();
    return unsupported(p, "for expression", open.start);
  });
}

function objectKeyName(key: Expr, parenthesised: boolean): string | undefined {
  if (parenthesised) return undefined;
  if (key.kind === "traversal" && key.steps.length === 0) return key.root;
  if (key.kind === "template") return key.value;
  if (key.kind === "literal" && typeof key.value === "boolean") return key.raw;
  return undefined;
}

function parseObject(p: ParserState): Expr {
  const open = p.next();
  return p.withNewlines(true, () => {
    while (p.peek().kind === "newline") p.next();
    if (isForIntro(p)) return parseFor(p, open, "}");
    const items: ObjectItem[] = [];
    const resync = (): void => {
      p.skipUntil(SYNC_OBJECT);
      if (p.peek().kind === ",") p.next();
    };
    for (;;) {
      const t = p.peek();
      if (t.kind === "newline") {
        p.next();
        continue;
      }
      if (t.kind === "}") {
        p.next();
        break;
      }
      if (t.kind === "eof") {
        reportUnclosed(p, open, "}", "object", true);
        break;
      }
      const startIndex = p.index;
      const parenthesised = t.kind === "(";
      const mark = p.failures;
      const key = parseExpression(p);
      if (p.failures !== mark) {
        resync();
        if (p.index === startIndex) p.next();
        continue;
      }
      const sep = p.peek();
      const keyName = objectKeyName(key, parenthesised);
      if (sep.kind !== "=" && sep.kind !== ":") {
        const named = keyName !== undefined ? ` "${keyName}"` : "";
        p.fail(sep, "Missing key/value separator", `Expected "=" (or ":") after the object key${named}, followed by its value.`);
        resync();
        continue;
      }
      p.next();
      const value = parseExpression(p);
      items.push({ keyName, key, value, range: p.range(t.start, p.lastEnd) });
      if (p.failures !== mark) {
        resync();
        continue;
      }
      const after = p.peek();
      if (after.kind === "," || after.kind === "newline") {
        p.next();
      } else if (after.kind !== "}" && after.kind !== "eof") {
        p.fail(after, "Missing attribute separator", "Expected a comma or a newline after this object item, before the next one.");
        resync();
      }
    }
    return { kind: "object", items, range: p.range(open.start, p.lastEnd) };
  });
}
