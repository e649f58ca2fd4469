/**
 * SQL statement analysis for the `sql.*` facets and `op.class`.
 *
 * Postgres text is parsed by the real Postgres parser (libpg-query, compiled
 * to WASM) — never by regular expressions — so what the analysis sees is what
 * the server will execute: quoting, dollar-quoting, comments and nesting are
 * the server's own. Each statement of a (possibly multi-statement) query is
 * walked once to find what it does:
 *
 * - `verb`: what the statement does, with shadow statements counted as what
 *   they do (a data-modifying CTE, EXPLAIN ANALYZE of a write, SELECT INTO,
 *   PREPARE of a write, a DO block);
 * - `verbs`: every verb involved, outer first;
 * - `tables` / `functions`: every relation / function named anywhere;
 * - `opClass`: the most severe class among the verbs.
 *
 * Anything the parser refuses yields `{ok: false}` and the caller fails
 * closed. The analyzer never throws. See docs/sql-analysis.md.
 */
import { loadModule, parseSync } from "libpg-query";
import type { OpClass } from "../action.js";
import { SourceText } from "./source.js";
import { rawStatementsOf } from "./state.js";
import { analyzeStatementNode } from "./walker.js";

export {
  OP_CLASS_ORDER,
  OP_CLASS_RANK,
  OP_CLASS_REFINEMENTS,
  STATEMENT_VERBS,
  TRANSACTION_VERBS,
  VERB_OP_CLASS,
  opClassOfVerb,
  verbForStatementNode,
} from "./verbs.js";

/** What one SQL statement does, as the policy core sees it. */
export interface SqlStatementAnalysis {
  /** Lower-case verb of what the statement does (shadow statements count as what they do). */
  verb: string;
  /** Every verb involved, outer first then nested, de-duplicated. */
  verbs: string[];
  /**
   * Relations named anywhere, in order of appearance; `s.t` yields "s.t" and
   * "t". Unquoted names arrive lower-cased (Postgres folds them); quoted names
   * keep their case, because `"Users"` and `users` are different tables.
   */
  tables: string[];
  /** Functions called or named anywhere; `s.f` yields "s.f" and "f". Same case rule as tables. */
  functions: string[];
  /** This statement's own source text, trimmed. */
  statement: string;
  /** Most severe operation class among `verbs`. */
  opClass: OpClass;
}

/** Result of {@link analyzeSql}: one entry per statement, or the parser's refusal. */
export type SqlAnalysis =
  | { ok: true; statements: SqlStatementAnalysis[] }
  | { ok: false; error: string };

let ready = false;
let loading: Promise<void> | null = null;

/**
 * Load the parser's WASM module. Must be awaited once before
 * {@link analyzeSql}, which is synchronous so a decision never waits on I/O.
 * Idempotent; a failed load may be retried.
 */
export function initSqlAnalyzer(): Promise<void> {
  if (loading === null) {
    loading = loadModule().then(
      () => {
        ready = true;
      },
      (e: unknown) => {
        loading = null;
        throw e;
      },
    );
  }
  return loading;
}

/** Longest parser error message passed on (errors are shown to operators and logged). */
const MAX_ERROR_LENGTH = 300;

/**
 * Analyse SQL text (one or more statements). Empty input, or input that is
 * only whitespace and comments, yields no statements. Never throws: anything
 * the parser refuses — syntax errors, nesting beyond the parser's stack limit,
 * NUL bytes, malformed UTF-16 — is `{ok: false}`, and the caller must treat
 * it as unknown (fail closed).
 */
export function analyzeSql(text: string): SqlAnalysis {
  try {
    return analyzeOrThrow(text);
  } catch (e) {
    return fail(errorMessage(e));
  }
}

function analyzeOrThrow(text: string): SqlAnalysis {
  if (typeof text !== "string") return fail("SQL text is not a string");
  if (!ready) return fail("SQL analyzer not initialised (await initSqlAnalyzer() first)");
  if (text.length === 0) return { ok: true, statements: [] };
  // The parser reads a C string: a NUL would hide everything after it.
  if (text.includes("\0")) return fail("SQL text contains a NUL byte");
  const src = new SourceText(text);
  if (!src.wellFormed) return fail("SQL text contains an unpaired UTF-16 surrogate");
  const tree: unknown = parseSync(text);
  const statements: SqlStatementAnalysis[] = [];
  for (const raw of rawStatementsOf(tree)) {
    const statement = src.slice(raw.location, raw.end).trim();
    const facts = analyzeStatementNode(raw.stmt, statement);
    statements.push({
      verb: facts.verb,
      verbs: facts.verbs,
      tables: facts.tables,
      functions: facts.functions,
      statement,
      opClass: facts.opClass,
    });
  }
  return { ok: true, statements };
}

function fail(error: string): SqlAnalysis {
  return { ok: false, error };
}

function errorMessage(e: unknown): string {
  let msg: string;
  if (e instanceof RangeError) msg = "statement too deeply nested to analyse";
  else if (e instanceof Error) msg = e.message || e.name;
  else msg = String(e);
  if (msg.length > MAX_ERROR_LENGTH) msg = `${msg.slice(0, MAX_ERROR_LENGTH)}…`;
  return msg;
}
