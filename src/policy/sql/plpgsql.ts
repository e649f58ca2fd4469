/**
 * SQL fragments inside a PL/pgSQL body.
 *
 * A `DO` block (and a `LANGUAGE plpgsql` function) hides its statements in a
 * string, so the SQL parser sees only "do". libpg-query's PL/pgSQL parser
 * turns the body into a tree whose SQL pieces are `PLpgSQL_expr` nodes
 * (`{query, parseMode}`); this module lists them so the analyzer can parse
 * each with the SQL parser and count what the block really does.
 *
 * Pure: no parsing here, only the tree walk, so the walk can be tested and
 * bounded independently.
 */

/** One piece of SQL found in a PL/pgSQL tree. */
export interface PlFragment {
  /**
   * How to parse `text`:
   * - `sql`: a whole statement (`DELETE ...`, `PERFORM` arrives as `SELECT ...`);
   * - `expr`: an expression, evaluated by PL/pgSQL as `SELECT <expr>`;
   * - `assign`: `target := expr` (or `target = expr`), only the right side is SQL.
   */
  kind: "sql" | "expr" | "assign";
  text: string;
  /**
   * True when the expression's value is itself executed as SQL (`EXECUTE`,
   * `FOR ... IN EXECUTE`, `OPEN ... FOR EXECUTE`, `RETURN QUERY EXECUTE`):
   * if it is a string literal, that literal is analysed as SQL too.
   */
  dynamic: boolean;
}

// PostgreSQL's RawParseMode values, as libpg-query reports them in parseMode.
const RAW_PARSE_DEFAULT = 0;
const RAW_PARSE_TYPE_NAME = 1;
const RAW_PARSE_PLPGSQL_EXPR = 2;

/** Statement nodes whose `query` field is a string executed dynamically. */
const DYNAMIC_QUERY_PARENTS: ReadonlySet<string> = new Set(["PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"]);

/** Hard bounds so a hostile body cannot make the walk itself expensive. */
const MAX_FRAGMENTS = 10_000;
const MAX_DEPTH = 2_000;

/**
 * Every SQL fragment in a PL/pgSQL parse tree (the JSON libpg-query's
 * `parsePlPgSQLSync` returns), in tree order. Never throws on odd shapes;
 * stops collecting after a bound (the caller still knows the block is `do`).
 */
export function plpgsqlFragments(tree: unknown): PlFragment[] {
  const out: PlFragment[] = [];
  collect(tree, false, out, 0);
  return out;
}

function collect(node: unknown, dynamicQueryField: boolean, out: PlFragment[], depth: number): void {
  if (node === null || typeof node !== "object" || out.length >= MAX_FRAGMENTS || depth > MAX_DEPTH) return;
  if (Array.isArray(node)) {
    for (const item of node) collect(item, false, out, depth + 1);
    return;
  }
  const obj = node as Record<string, unknown>;
  // A loop's `body` is serialised before its condition or query; visit it
  // last so fragments come out in source order.
  for (const key in obj) {
    if (key !== "body") collectField(obj, key, dynamicQueryField, out, depth);
  }
  if ("body" in obj) collectField(obj, "body", dynamicQueryField, out, depth);
}

function collectField(
  obj: Record<string, unknown>,
  key: string,
  dynamicQueryField: boolean,
  out: PlFragment[],
  depth: number,
): void {
  const value = obj[key];
  if (value === null || typeof value !== "object") return;
  if (key === "PLpgSQL_expr") {
    const frag = fragmentOf(value as Record<string, unknown>);
    if (frag) {
      frag.dynamic = dynamicQueryField;
      out.push(frag);
    }
    return;
  }
  if (DYNAMIC_QUERY_PARENTS.has(key)) {
    collectDynamicParent(value, out, depth + 1);
    return;
  }
  collect(value, key === "dynquery", out, depth + 1);
}

/** Walk a dynamic-execution statement: its `query` field holds the dynamic string. */
function collectDynamicParent(node: unknown, out: PlFragment[], depth: number): void {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return;
  const obj = node as Record<string, unknown>;
  for (const key in obj) collect(obj[key], key === "query", out, depth + 1);
}

function fragmentOf(expr: Record<string, unknown>): PlFragment | null {
  const text = expr["query"];
  if (typeof text !== "string" || text.length === 0) return null;
  const mode = typeof expr["parseMode"] === "number" ? (expr["parseMode"] as number) : RAW_PARSE_DEFAULT;
  if (mode === RAW_PARSE_TYPE_NAME) return null;
  if (mode === RAW_PARSE_DEFAULT) return { kind: "sql", text, dynamic: false };
  if (mode === RAW_PARSE_PLPGSQL_EXPR) return { kind: "expr", text, dynamic: false };
  // RAW_PARSE_PLPGSQL_ASSIGN1..3: "target := expr".
  return { kind: "assign", text, dynamic: false };
}
