/**
 * Per-statement analysis state and the small operations that record into it
 * (verbs with their class, tables, functions), shared by the AST walker
 * (walker.ts) and the analysis of SQL hidden in strings (embedded.ts).
 */
import type { OpClass } from "../action.js";
import { OP_CLASS_RANK, VERB_SEVERITY, opClassOfVerb } from "./verbs.js";

/** A JSON object of the parse tree; nodes are narrowed field by field, never trusted by shape. */
export type Rec = Record<string, unknown>;

/** What one statement does (everything in SqlStatementAnalysis but its text). */
export interface StatementFacts {
  verb: string;
  verbs: string[];
  tables: string[];
  functions: string[];
  opClass: OpClass;
}

/**
 * How deep SQL-inside-strings may nest (a DO body's EXECUTE of a literal that
 * is itself a DO, ...). Past it the inner text is not analysed; the outer
 * statement is already `do` (exec) or `create` (admin).
 */
export const MAX_NESTED_PARSE = 6;

/**
 * Everything collected while walking one top-level statement, plus the walk's
 * context flags (saved and restored around the subtrees they apply to).
 */
export interface State {
  verbs: string[];
  tables: string[];
  functions: string[];
  /** Most severe class among recorded verbs (index into OP_CLASS_ORDER). */
  classRank: number;
  /** Effective verb so far and its rank (class * 10 + severity). */
  best: string;
  bestRank: number;
  /** False under a plain EXPLAIN: the inner statement does not run, its verbs do not count. */
  countVerbs: boolean;
  /**
   * False in code that is defined, not run (function bodies, rule actions):
   * its verbs are listed and classed but cannot become the effective verb.
   */
  candidate: boolean;
  /** Whether an ObjectWithArgs in the current statement names a function (not an operator). */
  owaFunc: boolean;
  /** CTE names visible at this point of the walk (unqualified RangeVars matching one are not tables). */
  cte: string[];
  /** Source text of the raw statement being walked (the PL/pgSQL parser needs it). */
  stmtText: string;
  /** Nesting depth of SQL parsed out of strings. */
  nest: number;
  /** The walker's entry points, for analysing SQL found inside strings (see embedded.ts). */
  hooks: WalkHooks;
}

/**
 * Walker entry points handed to the code that analyses SQL inside strings, so
 * that module does not import the walker (no import cycle).
 */
export interface WalkHooks {
  /** Visit one raw statement node (`{"SelectStmt": {...}}`) as a statement of its own. */
  visitRawStatement(stmt: unknown, st: State): void;
  /** Walk a SELECT's contents without counting the SELECT itself (PL/pgSQL expressions). */
  walkSelectContents(sel: Rec, st: State): void;
  /** Walk any subtree. */
  walk(node: unknown, st: State): void;
  /** Walk an object's fields except those in `skip`. */
  walkFields(obj: Rec, st: State, skip: ReadonlySet<string> | undefined): void;
}

/**
 * Record a verb. Its class raises the statement's op class; unless it sits in
 * code that is only defined (`candidate` false), it competes for the
 * effective verb by class first, then by {@link VERB_SEVERITY} — the earliest
 * (outermost) verb wins ties, so `EXPLAIN ANALYZE SELECT` stays `explain`.
 */
export function addVerb(st: State, verb: string, cls: OpClass = opClassOfVerb(verb), candidate = true): void {
  if (!st.countVerbs) return;
  if (!st.verbs.includes(verb)) st.verbs.push(verb);
  const r = OP_CLASS_RANK[cls];
  if (r > st.classRank) st.classRank = r;
  if (candidate && st.candidate) {
    const rank = r * 10 + (VERB_SEVERITY[verb] ?? 0);
    if (rank > st.bestRank) {
      st.bestRank = rank;
      st.best = verb;
    }
  }
}

function addUnique(list: string[], value: string): void {
  if (!list.includes(value)) list.push(value);
}

/** `a.b.c` → "a.b.c", "b.c", "c" (every suffix), so a rule can name either form. */
export function addQualified(parts: readonly string[], list: string[]): void {
  if (parts.length === 0) return;
  for (let i = 0; i < parts.length; i++) addUnique(list, parts.slice(i).join("."));
}

/** Strings of a list of `{String: {sval}}` nodes; null if any item is not a string. */
export function stringList(items: unknown): string[] | null {
  if (!Array.isArray(items)) return null;
  const out: string[] = [];
  for (const item of items) {
    const s = isRec(item) ? item["String"] : undefined;
    if (!isRec(s)) return null;
    out.push(typeof s["sval"] === "string" ? s["sval"] : "");
  }
  return out;
}

/** Record a qualified name given as a list of String nodes (functions, relation names in DDL). */
export function addNameList(items: unknown, list: string[]): void {
  const parts = stringList(items);
  if (parts) addQualified(parts, list);
}

/**
 * Record a RangeVar as a table, unless it is an unqualified reference to a
 * CTE in scope (`cteEligible`; statement targets never are).
 */
export function addRangeVar(rv: Rec, st: State, cteEligible: boolean): void {
  const rel = rv["relname"];
  if (typeof rel !== "string") return;
  const schema = typeof rv["schemaname"] === "string" ? rv["schemaname"] : "";
  const catalog = typeof rv["catalogname"] === "string" ? rv["catalogname"] : "";
  if (cteEligible && schema === "" && catalog === "" && st.cte.includes(rel)) return;
  const parts: string[] = [];
  if (catalog !== "") parts.push(catalog);
  if (schema !== "") parts.push(schema);
  parts.push(rel);
  addQualified(parts, st.tables);
}

/** A statement of a parse result with its byte range (`end` undefined = to the end of the text). */
export interface RawStatement {
  stmt: unknown;
  location: number;
  end: number | undefined;
}

/** The statements of a parse result, validated; throws on a malformed tree. */
export function rawStatementsOf(tree: unknown): RawStatement[] {
  if (!isRec(tree)) throw new Error("malformed parse tree: not an object");
  const stmts = tree["stmts"];
  if (stmts === undefined) return [];
  if (!Array.isArray(stmts)) throw new Error("malformed parse tree: stmts is not a list");
  const out: RawStatement[] = [];
  for (const raw of stmts) {
    if (!isRec(raw)) throw new Error("malformed parse tree: statement entry is not an object");
    const loc = typeof raw["stmt_location"] === "number" ? raw["stmt_location"] : 0;
    const len = typeof raw["stmt_len"] === "number" ? raw["stmt_len"] : 0;
    out.push({ stmt: raw["stmt"], location: loc, end: len > 0 ? loc + len : undefined });
  }
  return out;
}

/** A plain JSON object (not null, not an array). */
export function isRec(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value if it is a list, else an empty one (missing lists are omitted from the JSON). */
export function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}
