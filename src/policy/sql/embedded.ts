/**
 * SQL hidden inside strings: DO blocks, function bodies, and literals a
 * PL/pgSQL body passes to EXECUTE.
 *
 * The SQL parser sees `DO $$ ... $$` as one opaque string. To count what the
 * block really does, the statement is re-parsed with libpg-query's PL/pgSQL
 * parser, every SQL fragment of the body is parsed with the SQL parser, and
 * what those fragments do is folded into the enclosing statement's facts
 * (via the walker hooks on the state). Fragments that do not parse are
 * skipped: the enclosing statement keeps its own verb (`do` is exec,
 * `create` admin), so a body we cannot read never lowers the verdict.
 */
import { parsePlPgSQLSync, parseSync, scanSync } from "libpg-query";
import { plpgsqlFragments, type PlFragment } from "./plpgsql.js";
import { SourceText } from "./source.js";
import {
  MAX_NESTED_PARSE,
  addNameList,
  addVerb,
  arr,
  isRec,
  rawStatementsOf,
  stringList,
  type Rec,
  type State,
} from "./state.js";

const SKIP_SQL_BODY: ReadonlySet<string> = new Set(["sql_body"]);

/**
 * Errors that must not be mistaken for "this fragment does not parse": stack
 * exhaustion (RangeError) and a WASM trap or abort inside the parser
 * (WebAssembly.RuntimeError). They propagate so the whole statement is
 * refused (fail closed) instead of being analysed without the fragment.
 */
function isFatal(e: unknown): boolean {
  return e instanceof RangeError || (e instanceof Error && e.name === "RuntimeError");
}

function defElemsOf(list: unknown): Rec[] {
  const out: Rec[] = [];
  for (const item of arr(list)) {
    const d = isRec(item) ? item["DefElem"] : undefined;
    if (isRec(d)) out.push(d);
  }
  return out;
}

function stringArg(d: Rec): string | null {
  const a = d["arg"];
  const s = isRec(a) ? a["String"] : undefined;
  return isRec(s) && typeof s["sval"] === "string" ? s["sval"] : null;
}

/** DO: verb `do` (exec); a PL/pgSQL body is parsed and its SQL counted as run now. */
export function visitDo(body: Rec, st: State): void {
  addVerb(st, "do");
  let language = "plpgsql";
  let hasBody = false;
  for (const d of defElemsOf(body["args"])) {
    if (d["defname"] === "language") language = (stringArg(d) ?? "").toLowerCase();
    else if (d["defname"] === "as" && stringArg(d) !== null) hasBody = true;
  }
  // `DO LANGUAGE plpgsql` with no code is valid grammar; libpg-query's
  // PL/pgSQL compiler asserts (aborting the WASM module) on it, so only a
  // DO with a body is handed over.
  if (hasBody && language === "plpgsql") analyzePlpgsql(st.stmtText, st);
}

/**
 * CREATE FUNCTION / PROCEDURE: verb `create`. The body is code defined, not
 * run, so its verbs are listed (and classed) but never become the verb; an
 * SQL body (string or BEGIN ATOMIC) and a PL/pgSQL body are both searched.
 */
export function visitCreateFunction(body: Rec, st: State): void {
  addVerb(st, "create");
  addNameList(body["funcname"], st.functions);
  const saved = st.candidate;
  st.candidate = false;
  let language: string | null = null;
  let source: string | null = null;
  for (const d of defElemsOf(body["options"])) {
    if (d["defname"] === "language") language = (stringArg(d) ?? "").toLowerCase();
    else if (d["defname"] === "as") {
      const a = d["arg"];
      const list = isRec(a) ? a["List"] : undefined;
      const parts = isRec(list) ? stringList(list["items"]) : null;
      if (parts && parts.length === 1) source = parts[0] ?? null;
    }
  }
  const sqlBody = body["sql_body"];
  if (sqlBody !== undefined) st.hooks.walk(sqlBody, st);
  else if (source !== null && (language === null || language === "sql")) analyzeNestedSql(source, st);
  else if (source !== null && language === "plpgsql") analyzePlpgsql(st.stmtText, st);
  st.hooks.walkFields(body, st, SKIP_SQL_BODY);
  st.candidate = saved;
}

function analyzePlpgsql(statementText: string, st: State): void {
  if (st.nest >= MAX_NESTED_PARSE) return;
  let tree: unknown;
  try {
    tree = parsePlPgSQLSync(statementText);
  } catch (e) {
    if (isFatal(e)) throw e;
    return; // unparseable body: the statement keeps its own verb
  }
  for (const frag of plpgsqlFragments(tree)) visitFragment(frag, st);
}

function visitFragment(frag: PlFragment, st: State): void {
  switch (frag.kind) {
    case "sql":
      analyzeNestedSql(frag.text, st);
      return;
    case "expr":
      analyzeExpression(frag.text, frag.dynamic, st);
      return;
    case "assign": {
      const rhs = assignmentValue(frag.text);
      if (rhs !== null) analyzeExpression(rhs, frag.dynamic, st);
      return;
    }
  }
}

/**
 * Parse SQL found inside a string (a DO body statement, a function body, a
 * literal passed to EXECUTE) and fold what it does into the current
 * statement. Text that does not parse is skipped.
 */
function analyzeNestedSql(sql: string, st: State): void {
  const tree = nestedParse(sql, st);
  if (tree === null) return;
  withNestedScope(st, () => {
    const src = new SourceText(sql);
    for (const raw of rawStatementsOf(tree)) {
      st.stmtText = src.slice(raw.location, raw.end).trim();
      st.hooks.visitRawStatement(raw.stmt, st);
    }
  });
}

/**
 * A PL/pgSQL expression runs as `SELECT <expr>`: its subqueries and function
 * calls count, but the synthetic SELECT adds no verb. When the expression is
 * executed as SQL (EXECUTE) and is a literal string, that string is analysed.
 */
function analyzeExpression(expr: string, dynamic: boolean, st: State): void {
  const tree = nestedParse(`SELECT ${expr}`, st);
  if (tree === null) return;
  withNestedScope(st, () => {
    let first = true;
    for (const raw of rawStatementsOf(tree)) {
      const sel = isRec(raw.stmt) ? raw.stmt["SelectStmt"] : undefined;
      if (first && isRec(sel)) {
        st.hooks.walkSelectContents(sel, st);
        const literal = dynamic ? constantString(sel) : null;
        if (literal !== null) analyzeNestedSql(literal, st);
      } else {
        st.hooks.visitRawStatement(raw.stmt, st);
      }
      first = false;
    }
  });
}

function nestedParse(sql: string, st: State): unknown {
  if (st.nest >= MAX_NESTED_PARSE || sql.length === 0 || sql.includes("\0")) return null;
  try {
    return parseSync(sql);
  } catch (e) {
    if (isFatal(e)) throw e;
    return null;
  }
}

function withNestedScope(st: State, fn: () => void): void {
  const savedText = st.stmtText;
  const savedCte = st.cte;
  const savedOwa = st.owaFunc;
  st.nest++;
  st.cte = [];
  try {
    fn();
  } finally {
    st.nest--;
    st.cte = savedCte;
    st.stmtText = savedText;
    st.owaFunc = savedOwa;
  }
}

/** The value of `SELECT 'lit'` / `SELECT 'a' || 'b'` / `SELECT 'x'::text`, else null. */
function constantString(sel: Rec): string | null {
  const targets = sel["targetList"];
  if (!Array.isArray(targets) || targets.length !== 1 || sel["fromClause"] !== undefined) return null;
  const t = targets[0];
  const rt = isRec(t) ? t["ResTarget"] : undefined;
  return isRec(rt) ? foldString(rt["val"], 0) : null;
}

function foldString(node: unknown, depth: number): string | null {
  if (!isRec(node) || depth > 64) return null;
  const c = node["A_Const"];
  if (isRec(c)) {
    const s = c["sval"];
    return isRec(s) ? (typeof s["sval"] === "string" ? s["sval"] : "") : null;
  }
  const cast = node["TypeCast"];
  if (isRec(cast)) return foldString(cast["arg"], depth + 1);
  const e = node["A_Expr"];
  if (isRec(e) && e["kind"] === "AEXPR_OP") {
    const op = stringList(e["name"]);
    if (op && op.length === 1 && op[0] === "||") {
      const l = foldString(e["lexpr"], depth + 1);
      const r = l === null ? null : foldString(e["rexpr"], depth + 1);
      return l !== null && r !== null ? l + r : null;
    }
  }
  return null;
}

/**
 * Right-hand side of a PL/pgSQL assignment (`target := expr` or
 * `target = expr`; the target may carry fields and subscripts), found with
 * the SQL scanner so quotes and brackets are respected.
 */
function assignmentValue(text: string): string | null {
  let tokens: unknown;
  try {
    tokens = scanSync(text).tokens;
  } catch (e) {
    if (isFatal(e)) throw e;
    return null;
  }
  let depth = 0;
  for (const tok of arr(tokens)) {
    if (!isRec(tok)) continue;
    const t = tok["text"];
    if (t === "[" || t === "(") depth++;
    else if (t === "]" || t === ")") depth--;
    else if (depth === 0 && (t === ":=" || t === "=") && typeof tok["end"] === "number") {
      return new SourceText(text).slice(tok["end"]);
    }
  }
  return null;
}
