/**
 * Body parser for HCL native syntax: attributes, blocks, and the file as a
 * whole. Expressions are delegated to ./expressions.ts.
 *
 * Layout rules follow HCL: every body item starts on its own line and ends
 * with a newline; a block's `{` is on its header line; a block written on one
 * line (`type "label" { name = value }`) holds at most one argument. Errors
 * are reported once and the parser resynchronises at the next line or the
 * enclosing closing brace, so a single pass lists every independent mistake.
 */
import { error, formatRange, type Diagnostic } from "../diagnostics.js";
import type { Attribute, Block, BlockLabel, Body, ParsedFile } from "./ast.js";
import { parseExpression } from "./expressions.js";
import { lex, type Token } from "./lexer.js";
import { PositionMap } from "./positions.js";
import { MAX_DEPTH, ParserState, kinds } from "./state.js";

const SYNC_LINE = kinds("newline", "}");

interface Items {
  attributes: Attribute[];
  blocks: Block[];
  seen: Map<string, Attribute>;
  /**
   * Block headers seen without a `{` (e.g. the brace was forgotten): the
   * matching `}` further down is then expected and skipped silently instead
   * of closing the enclosing block or being reported a second time.
   */
  danglingHeaders: number;
}

const MISSING_BRACE_DETAIL = 'A block needs a body in braces: add "{" at the end of this line and a matching "}" after its contents.';

/**
 * Whether the line after a brace-less block header is indented deeper than
 * the header — the sign that its body follows and only the "{" is missing
 * (so the "}" that ends that body must not close the enclosing block).
 */
function bodyFollows(p: ParserState, header: Token): boolean {
  let k = 0;
  while (p.peekRaw(k).kind === "newline") k++;
  const next = p.peekRaw(k);
  if (next.kind === "eof" || next.kind === "}") return false;
  return p.map.pos(next.start).col > p.map.pos(header.start).col;
}

function newItems(): Items {
  return { attributes: [], blocks: [], seen: new Map(), danglingHeaders: 0 };
}

/**
 * Parses a whole file. Never throws on any input; always returns a body (partial
 * when there were errors). Diagnostics are sorted by position.
 */
export function parseFile(source: string, file: string): { parsed: ParsedFile; diagnostics: Diagnostic[] } {
  const map = new PositionMap(file, source);
  const lexed = lex(source, map);
  const p = new ParserState(lexed.tokens, map, lexed.swallowedToEof);
  const items = newItems();
  parseBodyItems(p, items, undefined);
  const body: Body = { attributes: items.attributes, blocks: items.blocks, range: map.range(0, source.length) };
  const diagnostics = [...lexed.diagnostics, ...p.diagnostics];
  // Stable sort: by start offset; equal offsets keep lexer-before-parser order.
  diagnostics.sort((a, b) => (a.range?.start.offset ?? 0) - (b.range?.start.offset ?? 0));
  return { parsed: { file, source, body }, diagnostics };
}

function skipLine(p: ParserState): void {
  p.skipUntil(SYNC_LINE);
}

/**
 * Parses body items until the `}` closing `open` (consumed and returned) or,
 * for the file body (`open` undefined), until EOF.
 */
function parseBodyItems(p: ParserState, items: Items, open: Token | undefined): Token | undefined {
  for (;;) {
    const startIndex = p.index;
    const t = p.peekRaw();
    switch (t.kind) {
      case "newline":
        p.next();
        continue;
      case "eof":
        if (open) {
          p.failAtEof(
            p.tokRange(open),
            "Unclosed configuration block",
            'There is no closing "}" for this block before the end of the file; add it, and check the brace nesting inside the block.',
          );
        }
        return undefined;
      case "}":
        if (items.danglingHeaders > 0) {
          items.danglingHeaders--;
          p.next();
          continue;
        }
        if (open) return p.next();
        p.next();
        p.fail(t, "Argument or block definition required", 'This "}" has no matching "{"; remove it, or check the brace nesting above it.');
        while (p.peekRaw().kind === "}") p.next(); // "}}}" is one mistake
        continue;
      case "ident":
        parseItem(p, items);
        break;
      case "string":
        if (p.peekRaw(1).kind === "=") {
          p.fail(t, "Invalid argument name", "Argument names must not be quoted; write the name bare, as in name = value.");
          skipLine(p);
          break;
        }
        p.fail(t, "Argument or block definition required", 'Expected an argument ("name = value") or a block ("type \\"label\\" { ... }") here; a block type is not quoted.');
        skipLine(p);
        break;
      default:
        p.fail(t, "Argument or block definition required", 'Expected an argument ("name = value") or a block ("type \\"label\\" { ... }") here.');
        skipLine(p);
    }
    if (p.index === startIndex) p.next(); // cannot happen, but never spin
  }
}

/** An item starting with an identifier: an attribute or a block. */
function parseItem(p: ParserState, items: Items): void {
  const name = p.next();
  const t = p.peekRaw();
  switch (t.kind) {
    case "=":
      parseAttribute(p, items, name, false);
      return;
    case "string":
    case "ident":
    case "{":
      parseBlock(p, items, name);
      return;
    case ":":
      p.fail(t, "Argument or block definition required", `Use "=" to set an argument, as in ${name.value} = value.`);
      skipLine(p);
      return;
    case "newline":
    case "eof":
      if (t.kind === "newline" && bodyFollows(p, name)) {
        p.fail(name, "Invalid block definition", MISSING_BRACE_DETAIL);
        items.danglingHeaders++;
        return;
      }
      p.fail(
        name,
        "Argument or block definition required",
        `"${name.value}" alone is incomplete: write ${name.value} = value to set an argument, or add braces to make it a block.`,
      );
      return;
    default:
      p.fail(t, "Argument or block definition required", `Expected "=" to set the argument "${name.value}", or a label or "{" to start a block.`);
      skipLine(p);
  }
}

function addAttribute(p: ParserState, items: Items, attr: Attribute): void {
  const first = items.seen.get(attr.name);
  if (first) {
    // Not a syntax failure: recovery is unaffected, the first definition wins.
    p.diagnostics.push(
      error(
        "Attribute redefined",
        `The argument "${attr.name}" was already set at ${formatRange(first.nameRange)}. Each argument may be set only once; remove one of the definitions.`,
        attr.nameRange,
      ),
    );
    return;
  }
  items.seen.set(attr.name, attr);
  items.attributes.push(attr);
}

/**
 * `name = expr` with the cursor on `=`. In a single-line block (`single`) the
 * caller checks what follows; otherwise a newline must follow. Returns false
 * when the attribute had a syntax error (the cursor is then resynchronised).
 */
function parseAttribute(p: ParserState, items: Items, name: Token, single: boolean): boolean {
  p.next(); // "="
  const before = p.failures;
  const expr = parseExpression(p);
  addAttribute(p, items, {
    name: name.value,
    nameRange: p.tokRange(name),
    expr,
    range: p.range(name.start, p.lastEnd),
  });
  if (p.failures !== before) {
    skipLine(p);
    return false;
  }
  if (single) return true;
  const t = p.peekRaw();
  if (t.kind === "newline" || t.kind === "eof") return true;
  if (t.kind === ",") {
    p.fail(t, "Unexpected comma after argument", "Arguments are separated by newlines, not commas; put each argument on its own line.");
  } else if (t.kind === "}") {
    p.fail(
      t,
      "Missing newline after argument",
      'An argument definition must end with a newline; put the closing "}" on its own line, or write the whole block on one line.',
    );
  } else {
    p.fail(t, "Missing newline after argument", "An argument definition must end with a newline; put the next item on its own line.");
  }
  skipLine(p);
  return false;
}

/** `type label* { body }` with the cursor after the type. */
function parseBlock(p: ParserState, items: Items, typeTok: Token): void {
  const labels: BlockLabel[] = [];
  for (let l = p.peekRaw(); l.kind === "string" || l.kind === "ident"; l = p.peekRaw()) {
    p.next();
    labels.push({ value: l.value, range: p.tokRange(l) });
  }
  const defRange = p.range(typeTok.start, p.lastEnd);
  let t = p.peekRaw();
  if (t.kind !== "{") {
    if (t.kind === "newline") {
      let k = 0;
      while (p.peekRaw(k).kind === "newline") k++;
      const brace = p.peekRaw(k);
      if (brace.kind !== "{") {
        if (p.afterUnterminatedString()) p.failQuietly(); // the "{" is inside the broken label
        else p.fail(defRange, "Invalid block definition", MISSING_BRACE_DETAIL);
        if (bodyFollows(p, typeTok)) items.danglingHeaders++;
        return;
      }
      p.fail(
        brace,
        "Invalid block definition",
        'The opening brace must be on the same line as the block type and labels; move "{" to the end of the previous line.',
      );
      for (; k > 0; k--) p.next();
      t = p.peekRaw();
    } else if (t.kind === "eof") {
      p.failAtEof(defRange, "Invalid block definition", MISSING_BRACE_DETAIL);
      return;
    } else {
      const detail =
        t.kind === "heredoc"
          ? "Block labels must be quoted strings or identifiers, not heredocs."
          : t.kind === "=" && labels.length > 0
            ? `Arguments cannot have labels; write ${typeTok.value} = value, or start a block with "{".`
            : 'Expected a quoted label or an opening brace ("{") here.';
      p.fail(t, "Invalid block definition", detail);
      skipLine(p);
      return;
    }
  }
  if (p.depth >= MAX_DEPTH) {
    p.failDepth(t);
    p.skipGroup();
    return;
  }
  const open = p.next();
  p.depth++;
  try {
    const body = newItems();
    let close: Token | undefined;
    const first = p.peekRaw();
    if (first.kind === "}") close = p.next();
    else if (first.kind === "newline" || first.kind === "eof") close = parseBodyItems(p, body, open);
    else close = parseSingleLine(p, body, open);
    const end = close ? close.end : p.peekRaw().start;
    const closeStart = close ? close.start : end;
    items.blocks.push({
      type: typeTok.value,
      typeRange: p.tokRange(typeTok),
      labels,
      body: { attributes: body.attributes, blocks: body.blocks, range: p.range(open.end, closeStart) },
      defRange,
      openBraceRange: p.tokRange(open),
      closeBraceRange: p.range(closeStart, end),
      range: p.range(typeTok.start, end),
    });
    if (close) {
      const after = p.peekRaw();
      if (after.kind !== "newline" && after.kind !== "eof") {
        p.fail(after, "Missing newline after block definition", "A block definition must end with a newline; put the next item on its own line.");
        skipLine(p);
      }
    }
  } finally {
    p.depth--;
  }
}

/**
 * The body of a block whose `{` is followed by more text on the same line:
 * HCL allows exactly one argument there, closed on the same line. Violations
 * are reported once, then the rest is parsed as a normal multi-line body.
 */
function parseSingleLine(p: ParserState, body: Items, open: Token): Token | undefined {
  const t = p.peekRaw();
  const u = p.peekRaw(1);
  if (t.kind === "ident" && u.kind === "=") {
    p.next();
    if (!parseAttribute(p, body, t, true)) {
      if (p.peekRaw().kind === "}") return p.next();
      return parseBodyItems(p, body, open);
    }
    const s = p.peekRaw();
    if (s.kind === "}") return p.next();
    if (s.kind === "newline") {
      if (p.afterUnterminatedString()) {
        // The "}" was swallowed by the broken string (already reported): end the block here.
        p.failQuietly();
        return undefined;
      }
      p.fail(
        s,
        "Invalid single-argument block definition",
        'A single-line block must close with "}" on the same line, right after its argument; add "}" there, or start the argument on a new line after "{".',
      );
      return parseBodyItems(p, body, open);
    }
    if (s.kind !== "eof") {
      p.fail(
        s,
        "Invalid single-argument block definition",
        s.kind === ","
          ? "A single-line block can hold only one argument, and arguments are not separated by commas; put each argument on its own line."
          : "A single-line block can hold only one argument; put each argument on its own line.",
      );
      skipLine(p);
      if (p.peekRaw().kind === "}") return p.next();
    }
    return parseBodyItems(p, body, open);
  }
  if (t.kind === "ident" && (u.kind === "string" || u.kind === "ident" || u.kind === "{")) {
    p.fail(
      t,
      "Invalid single-argument block definition",
      "A single-line block cannot contain a nested block; put the nested block on its own line inside a multi-line block.",
    );
    skipLine(p);
    if (p.peekRaw().kind === "}") return p.next();
  }
  return parseBodyItems(p, body, open);
}
