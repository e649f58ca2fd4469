/**
 * HCL2 native-syntax AST, as produced by `parseHcl` (./parser.ts).
 *
 * The tree keeps exactly what the loader needs to decode typed blocks and to
 * point every diagnostic at `file:line:col`: every node carries a
 * {@link SourceRange}. References such as `https.github-api` stay structured
 * (a root name plus attribute steps) instead of being flattened to strings, so
 * the loader can resolve them per kind and report the right position.
 */
import type { SourceRange } from "../diagnostics.js";

/** A whole file, or the inside of a block's braces. */
export interface Body {
  attributes: Attribute[];
  blocks: Block[];
  /** Range of the body content (for a file: the whole file). */
  range: SourceRange;
}

/** `name = expr` */
export interface Attribute {
  name: string;
  nameRange: SourceRange;
  expr: Expr;
  /** From the name to the end of the expression. */
  range: SourceRange;
}

export interface BlockLabel {
  /** The label's value (quoted labels are unescaped; bare identifier labels as written). */
  value: string;
  range: SourceRange;
}

/** `type "label" ... { body }` */
export interface Block {
  type: string;
  typeRange: SourceRange;
  labels: BlockLabel[];
  body: Body;
  /** HCL's "definition range": from the block type through the last label. */
  defRange: SourceRange;
  openBraceRange: SourceRange;
  closeBraceRange: SourceRange;
  /** From the block type through the closing brace. */
  range: SourceRange;
}

export type Expr =
  | LiteralExpr
  | TemplateExpr
  | TupleExpr
  | ObjectExpr
  | TraversalExpr
  | FunctionCallExpr
  | UnsupportedExpr;

/** A number, bool or null literal. Negative numbers (`-5`) fold into one literal. */
export interface LiteralExpr {
  kind: "literal";
  value: number | boolean | null;
  /** The source text of the literal (numbers keep their spelling, e.g. `1e3`). */
  raw: string;
  range: SourceRange;
}

/**
 * A quoted string or heredoc. Configs only use literal strings, so the value is
 * the fully unescaped text; `${`/`%{` sequences are parse errors (`$${` and
 * `%%{` are literal `${` and `%{`).
 */
export interface TemplateExpr {
  kind: "template";
  value: string;
  /** Whether it was written as a heredoc (`<<EOT` / `<<-EOT`). */
  heredoc: boolean;
  range: SourceRange;
}

export interface TupleExpr {
  kind: "tuple";
  items: Expr[];
  range: SourceRange;
}

export interface ObjectItem {
  /**
   * The key as a string when it is a bare identifier or a literal string
   * (`{ placeholder = "x" }` or `{ "a.b" = 1 }`); undefined when it is some
   * other expression (e.g. a parenthesised reference).
   */
  keyName: string | undefined;
  key: Expr;
  value: Expr;
  range: SourceRange;
}

export interface ObjectExpr {
  kind: "object";
  items: ObjectItem[];
  range: SourceRange;
}

export interface TraversalStep {
  kind: "attr" | "index";
  /** For `attr` steps: the attribute name (may contain `-`). */
  name?: string;
  /** For `index` steps: the key expression inside `[...]`. */
  key?: Expr;
  range: SourceRange;
}

/** `root.attr.attr[idx]`, e.g. `https.github-api` or a bare `mystery`. */
export interface TraversalExpr {
  kind: "traversal";
  root: string;
  rootRange: SourceRange;
  steps: TraversalStep[];
  range: SourceRange;
}

/** `name(args...)`. Parsed so the loader can reject it with a precise message. */
export interface FunctionCallExpr {
  kind: "call";
  name: string;
  args: Expr[];
  range: SourceRange;
}

/**
 * Syntax HCL allows but clawpatrol configs have no use for (arithmetic,
 * comparison, conditionals, `for` expressions, splats). The parser accepts it
 * so the rest of the file still parses; the loader reports it where a value
 * is expected.
 */
export interface UnsupportedExpr {
  kind: "unsupported";
  /** Short human name of the construct, e.g. "binary operator", "conditional", "for expression". */
  what: string;
  range: SourceRange;
}

/** The result of parsing one file. `body` is always present, possibly partial. */
export interface ParsedFile {
  file: string;
  source: string;
  body: Body;
}
