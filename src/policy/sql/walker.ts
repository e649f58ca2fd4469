/**
 * One pass over one statement's parse tree, collecting what the statement
 * does: verbs (with the op class each implies), tables and functions.
 *
 * The tree is libpg-query's JSON form of the Postgres raw parse tree. Fields
 * typed as a generic `Node` are wrapped in a one-key object naming the node
 * type (`{"RangeVar": {...}}`); fields typed as a specific struct are bare
 * (`"relation": {"relname": "t", ...}`). The walk therefore visits every
 * property, dispatches on upper-case keys (node type names), and recognises
 * the two bare structs that matter by their shape: a RangeVar has a string
 * `relname`, an ObjectWithArgs has an `objname` list.
 *
 * Statement kinds that hide other statements are handled explicitly (CTEs,
 * EXPLAIN, PREPARE, COPY (query), CREATE TABLE AS, rules; DO and function
 * bodies in embedded.ts); everything else is found by the generic walk, so a
 * node type this file never heard of is still searched for tables, functions
 * and nested statements.
 */
import type { OpClass } from "../action.js";
import { visitCreateFunction, visitDo } from "./embedded.js";
import {
  addNameList,
  addQualified,
  addRangeVar,
  addVerb,
  arr,
  isRec,
  stringList,
  type Rec,
  type State,
  type StatementFacts,
  type WalkHooks,
} from "./state.js";
import { OP_CLASS_ORDER, PRIVILEGED_SETTINGS, TRANSACTION_VERBS, verbForStatementNode } from "./verbs.js";

export type { StatementFacts } from "./state.js";

const HOOKS: WalkHooks = {
  visitRawStatement,
  walkSelectContents: (sel, st) => walkWithCtes(sel, st, SKIP_SELECT),
  walk,
  walkFields,
};

/**
 * Analyse one raw statement node (`{"SelectStmt": {...}}`). Throws only on a
 * malformed tree or when the walk runs out of stack; the caller turns that
 * into a refusal.
 */
export function analyzeStatementNode(stmt: unknown, stmtText: string): StatementFacts {
  const st: State = {
    verbs: [],
    tables: [],
    functions: [],
    classRank: 0,
    best: "",
    bestRank: Number.NEGATIVE_INFINITY,
    countVerbs: true,
    candidate: true,
    owaFunc: false,
    cte: [],
    stmtText,
    nest: 0,
    hooks: HOOKS,
  };
  visitRawStatement(stmt, st);
  return {
    verb: st.best,
    verbs: st.verbs,
    tables: st.tables,
    functions: st.functions,
    opClass: OP_CLASS_ORDER[st.classRank] ?? "exec",
  };
}

function visitRawStatement(stmt: unknown, st: State): void {
  if (!isRec(stmt)) throw new Error("malformed parse tree: statement is not an object");
  let name: string | undefined;
  for (const key in stmt) {
    if (name !== undefined) throw new Error("malformed parse tree: statement node has several keys");
    name = key;
  }
  const body = name === undefined ? undefined : stmt[name];
  if (name === undefined || !isRec(body)) throw new Error("malformed parse tree: empty statement node");
  visitStatement(name, body, st, true);
}

// ------------------------------------------------------------- generic walk

/** Leaf node types: nothing below them can name a table, function or statement. */
const LEAF_NODES: ReadonlySet<string> = new Set([
  "A_Const",
  "String",
  "Integer",
  "Float",
  "Boolean",
  "BitString",
  "ColumnRef",
  "A_Star",
  "ParamRef",
  "RoleSpec",
  "SQLValueFunction",
]);

const SKIP_WITH: ReadonlySet<string> = new Set(["withClause"]);
const SKIP_SELECT: ReadonlySet<string> = new Set(["withClause", "larg", "rarg"]);
const SKIP_QUERY: ReadonlySet<string> = new Set(["query"]);
const SKIP_ACTIONS: ReadonlySet<string> = new Set(["actions"]);
const SKIP_FUNCCALL: ReadonlySet<string> = new Set(["funccall"]);

function walk(node: unknown, st: State): void {
  if (typeof node !== "object" || node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) walk(item, st);
    return;
  }
  visitObject(node as Rec, st);
}

/**
 * An object that is not behind a node-type key: either a wrapper
 * (`{"RangeVar": {...}}`, handled by walkFields) or a bare struct. A bare
 * RangeVar is a statement's target (INSERT/UPDATE/DELETE/MERGE target, INTO,
 * CREATE, ALTER, ...); targets are never CTE references.
 */
function visitObject(r: Rec, st: State): void {
  if (typeof r["relname"] === "string") addRangeVar(r, st, false);
  else if (Array.isArray(r["objname"])) visitObjectWithArgs(r, st);
  else walkFields(r, st, undefined);
}

function walkFields(obj: Rec, st: State, skip: ReadonlySet<string> | undefined): void {
  for (const key in obj) {
    if (skip !== undefined && skip.has(key)) continue;
    const v = obj[key];
    if (typeof v !== "object" || v === null) continue;
    const c = key.charCodeAt(0);
    if (c >= 65 && c <= 90) {
      // A node-type wrapper key.
      if (!Array.isArray(v)) visitNode(key, v as Rec, st);
      continue;
    }
    if (Array.isArray(v)) {
      // Inline the common case (a list of wrapped nodes) to save stack per level.
      for (const item of v) {
        if (typeof item === "object" && item !== null) {
          if (Array.isArray(item)) walk(item, st);
          else visitObject(item as Rec, st);
        }
      }
      continue;
    }
    visitObject(v as Rec, st);
  }
}

function visitNode(name: string, body: Rec, st: State): void {
  if (LEAF_NODES.has(name)) return;
  switch (name) {
    case "RangeVar":
      addRangeVar(body, st, true);
      return;
    case "FuncCall":
      addNameList(body["funcname"], st.functions);
      walkFields(body, st, undefined);
      return;
    case "ObjectWithArgs":
      visitObjectWithArgs(body, st);
      return;
    case "CreateOpClassItem": {
      // itemtype 1 = OPERATOR, 2 = FUNCTION.
      const saved = st.owaFunc;
      st.owaFunc = body["itemtype"] === 2;
      walkFields(body, st, undefined);
      st.owaFunc = saved;
      return;
    }
    case "RawStmt":
      walkFields(body, st, undefined);
      return;
  }
  if (name.endsWith("Stmt")) visitStatement(name, body, st, false);
  else walkFields(body, st, undefined);
}

function visitObjectWithArgs(body: Rec, st: State): void {
  if (st.owaFunc) addNameList(body["objname"], st.functions);
}

/** Visit a field holding one wrapped statement (`{"DeleteStmt": {...}}`) as a statement in its own right. */
function visitChildStatement(node: unknown, st: State): void {
  if (!isRec(node)) return;
  for (const key in node) {
    const body = node[key];
    if (isRec(body) && key.endsWith("Stmt")) visitStatement(key, body, st, true);
    else walk(node, st);
    return;
  }
}

// ----------------------------------------------------------- statements

const FUNCTION_OBJECTS: ReadonlySet<string> = new Set([
  "OBJECT_FUNCTION",
  "OBJECT_PROCEDURE",
  "OBJECT_ROUTINE",
  "OBJECT_AGGREGATE",
]);
const OBJECT_TYPE_FIELDS = ["objtype", "removeType", "objectType", "renameType"] as const;

/** Relation kinds whose object name (a string list) is itself the relation. */
const RELATION_OBJECTS: ReadonlySet<string> = new Set([
  "OBJECT_TABLE",
  "OBJECT_VIEW",
  "OBJECT_MATVIEW",
  "OBJECT_FOREIGN_TABLE",
  "OBJECT_SEQUENCE",
  "OBJECT_INDEX",
]);
/** Object kinds named `table.member` (`DROP TRIGGER tr ON s.t` → [s, t, tr]): all but the last part is the relation. */
const RELATION_MEMBER_OBJECTS: ReadonlySet<string> = new Set([
  "OBJECT_COLUMN",
  "OBJECT_TRIGGER",
  "OBJECT_POLICY",
  "OBJECT_RULE",
  "OBJECT_TABCONSTRAINT",
]);

function namesFunctions(name: string, body: Rec): boolean {
  if (name === "CreateCastStmt" || name === "CreateTransformStmt" || name === "AlterFunctionStmt") return true;
  for (const f of OBJECT_TYPE_FIELDS) {
    const v = body[f];
    if (typeof v === "string") return FUNCTION_OBJECTS.has(v);
  }
  return false;
}

function objectTypeOf(body: Rec, field: string): string {
  const v = body[field];
  return typeof v === "string" ? v : "";
}

/** A `{List: {items: [String...]}}` object name, as table names when its kind is a relation. */
function addObjectNameAsTable(kind: string, obj: unknown, st: State): void {
  if (!RELATION_OBJECTS.has(kind) && !RELATION_MEMBER_OBJECTS.has(kind)) return;
  const list = isRec(obj) ? obj["List"] : undefined;
  const parts = isRec(list) ? stringList(list["items"]) : null;
  if (!parts || parts.length === 0) return;
  if (RELATION_OBJECTS.has(kind)) addQualified(parts, st.tables);
  else if (parts.length > 1) addQualified(parts.slice(0, -1), st.tables);
}

function visitStatement(name: string, body: Rec, st: State, standalone: boolean): void {
  const savedOwa = st.owaFunc;
  st.owaFunc = namesFunctions(name, body);
  switch (name) {
    case "SelectStmt":
      visitSelect(body, st, standalone);
      break;
    case "InsertStmt": {
      addVerb(st, "insert");
      const oc = body["onConflictClause"];
      if (isRec(oc) && oc["action"] === "ONCONFLICT_UPDATE") addVerb(st, "update", "write", false);
      walkWithCtes(body, st, SKIP_WITH);
      break;
    }
    case "UpdateStmt":
      addVerb(st, "update");
      walkWithCtes(body, st, SKIP_WITH);
      break;
    case "DeleteStmt":
      addVerb(st, "delete");
      walkWithCtes(body, st, SKIP_WITH);
      break;
    case "MergeStmt":
      addVerb(st, "merge");
      for (const clause of arr(body["mergeWhenClauses"])) {
        const w = isRec(clause) ? clause["MergeWhenClause"] : undefined;
        const cmd = isRec(w) ? w["commandType"] : undefined;
        if (cmd === "CMD_UPDATE") addVerb(st, "update", "write", false);
        else if (cmd === "CMD_DELETE") addVerb(st, "delete", "delete", false);
        else if (cmd === "CMD_INSERT") addVerb(st, "insert", "write", false);
      }
      walkWithCtes(body, st, SKIP_WITH);
      break;
    case "ExplainStmt": {
      addVerb(st, "explain");
      const saved = st.countVerbs;
      if (!explainAnalyzes(body["options"])) st.countVerbs = false;
      visitChildStatement(body["query"], st);
      st.countVerbs = saved;
      break;
    }
    case "PrepareStmt":
      addVerb(st, "prepare");
      visitChildStatement(body["query"], st);
      break;
    case "DeclareCursorStmt":
      addVerb(st, "declare");
      visitChildStatement(body["query"], st);
      break;
    case "CopyStmt": {
      const cls: OpClass =
        body["is_program"] === true
          ? "exec"
          : body["is_from"] === true
            ? "write"
            : typeof body["filename"] === "string"
              ? "admin"
              : "read";
      addVerb(st, "copy", cls);
      visitChildStatement(body["query"], st);
      walkFields(body, st, SKIP_QUERY);
      break;
    }
    case "CreateTableAsStmt":
    case "ViewStmt":
      addVerb(st, "create");
      walkFields(body, st, SKIP_QUERY); // the target first: it comes first in the text
      visitChildStatement(body["query"], st);
      break;
    case "DoStmt":
      visitDo(body, st);
      break;
    case "CallStmt": {
      addVerb(st, "call");
      const fc = body["funccall"];
      if (isRec(fc)) {
        addNameList(fc["funcname"], st.functions);
        walkFields(fc, st, undefined);
      }
      walkFields(body, st, SKIP_FUNCCALL);
      break;
    }
    case "CreateFunctionStmt":
      visitCreateFunction(body, st);
      break;
    case "RuleStmt": {
      addVerb(st, "create");
      const saved = st.candidate;
      st.candidate = false;
      for (const action of arr(body["actions"])) visitChildStatement(action, st);
      walkFields(body, st, SKIP_ACTIONS);
      st.candidate = saved;
      break;
    }
    case "CreateTrigStmt":
    case "CreateEventTrigStmt":
      addVerb(st, "create");
      addNameList(body["funcname"], st.functions);
      walkFields(body, st, undefined);
      break;
    case "DropStmt": {
      addVerb(st, "drop");
      const kind = objectTypeOf(body, "removeType");
      for (const obj of arr(body["objects"])) addObjectNameAsTable(kind, obj, st);
      walkFields(body, st, undefined);
      break;
    }
    case "CommentStmt":
    case "SecLabelStmt":
      addVerb(st, name === "CommentStmt" ? "comment" : "security label");
      addObjectNameAsTable(objectTypeOf(body, "objtype"), body["object"], st);
      walkFields(body, st, undefined);
      break;
    case "RenameStmt": {
      addVerb(st, "alter");
      walkFields(body, st, undefined);
      const rel = body["relation"];
      const newname = body["newname"];
      if (RELATION_OBJECTS.has(objectTypeOf(body, "renameType")) && isRec(rel) && typeof newname === "string") {
        // The new name is a relation too: renaming onto a protected name matters.
        addRangeVar({ ...rel, relname: newname }, st, false);
      }
      break;
    }
    case "AlterObjectSchemaStmt": {
      addVerb(st, "alter");
      walkFields(body, st, undefined);
      const rel = body["relation"];
      const newschema = body["newschema"];
      if (isRec(rel) && typeof newschema === "string") {
        addRangeVar({ relname: rel["relname"], schemaname: newschema }, st, false);
      }
      break;
    }
    case "CreateSchemaStmt": {
      // Elements are created in the new schema: `CREATE SCHEMA s CREATE TABLE x` creates s.x.
      addVerb(st, "create");
      const schema = body["schemaname"];
      if (typeof schema === "string") {
        for (const elt of arr(body["schemaElts"])) {
          if (!isRec(elt)) continue;
          for (const key in elt) {
            const eb = elt[key];
            const rv = isRec(eb) ? (eb["relation"] ?? eb["view"] ?? eb["sequence"]) : undefined;
            if (isRec(rv) && typeof rv["relname"] === "string" && rv["schemaname"] === undefined) {
              addQualified([schema, rv["relname"]], st.tables);
            }
          }
        }
      }
      walkFields(body, st, undefined);
      break;
    }
    case "GrantStmt":
    case "GrantRoleStmt":
      addVerb(st, body["is_grant"] === true ? "grant" : "revoke");
      walkFields(body, st, undefined);
      break;
    case "TransactionStmt": {
      const kind = body["kind"];
      addVerb(st, (typeof kind === "string" ? TRANSACTION_VERBS[kind] : undefined) ?? "transaction");
      break;
    }
    case "VariableSetStmt": {
      const kind = body["kind"];
      if (typeof kind === "string" && kind.startsWith("VAR_RESET")) {
        addVerb(st, "reset");
      } else {
        const setting = typeof body["name"] === "string" ? body["name"].toLowerCase() : "";
        addVerb(st, "set", PRIVILEGED_SETTINGS.has(setting) ? "admin" : "read");
      }
      walkFields(body, st, undefined);
      break;
    }
    case "VacuumStmt":
      addVerb(st, body["is_vacuumcmd"] === true ? "vacuum" : "analyze");
      walkFields(body, st, undefined);
      break;
    case "FetchStmt":
      addVerb(st, body["ismove"] === true ? "move" : "fetch");
      break;
    default: {
      const v = verbForStatementNode(name);
      addVerb(st, v.verb, v.opClass);
      walkFields(body, st, undefined);
    }
  }
  st.owaFunc = savedOwa;
}

function visitSelect(body: Rec, st: State, standalone: boolean): void {
  const op = body["op"];
  const plain = op === undefined || op === "SETOP_NONE";
  const isValues = plain && Array.isArray(body["valuesLists"]);
  // A VALUES list nested in another statement (INSERT ... VALUES, FROM
  // (VALUES ...)) is a row constructor, not a query: it adds no verb.
  if (isValues) {
    if (standalone) addVerb(st, "values");
  } else {
    addVerb(st, standalone && plain && isTableShorthand(body) ? "table" : "select");
  }
  if (isRec(body["intoClause"])) addVerb(st, "create");
  walkWithCtes(body, st, SKIP_SELECT);
}

/**
 * Set-operation branches (`larg`/`rarg`) are bare SelectStmts; they are
 * visited as selects so a branch's own WITH clause gets its own scope. Called
 * from walkWithCtes while the statement's CTEs are in scope.
 */
function visitSetOpBranches(body: Rec, st: State): void {
  const l = body["larg"];
  const r = body["rarg"];
  if (isRec(l)) visitStatement("SelectStmt", l, st, false);
  if (isRec(r)) visitStatement("SelectStmt", r, st, false);
}

/**
 * `TABLE t` parses to `SELECT * FROM t` with a parser-generated `*`
 * (location -1); a written `*` always has a real location.
 */
function isTableShorthand(body: Rec): boolean {
  const targets = body["targetList"];
  const from = body["fromClause"];
  if (!Array.isArray(targets) || targets.length !== 1 || !Array.isArray(from) || from.length !== 1) return false;
  const t = targets[0];
  const rt = isRec(t) ? t["ResTarget"] : undefined;
  return isRec(rt) && rt["location"] === -1;
}

/**
 * Walk a statement that may carry a WITH clause. CTE names are in scope for
 * the statement body; a non-recursive CTE sees only the CTEs before it (its
 * own name inside its body means the real table), a WITH RECURSIVE list sees
 * all of them.
 */
function walkWithCtes(body: Rec, st: State, skip: ReadonlySet<string>): void {
  const w = body["withClause"];
  const mark = st.cte.length;
  if (isRec(w)) {
    const ctes = arr(w["ctes"]);
    const recursive = w["recursive"] === true;
    if (recursive) {
      for (const c of ctes) {
        const name = cteName(c);
        if (name !== null) st.cte.push(name);
      }
    }
    for (const c of ctes) {
      const cte = isRec(c) ? c["CommonTableExpr"] : undefined;
      if (!isRec(cte)) {
        walk(c, st);
        continue;
      }
      walkFields(cte, st, undefined);
      if (!recursive && typeof cte["ctename"] === "string") st.cte.push(cte["ctename"]);
    }
  }
  walkFields(body, st, skip);
  if (skip === SKIP_SELECT) visitSetOpBranches(body, st);
  st.cte.length = mark;
}

function cteName(c: unknown): string | null {
  const cte = isRec(c) ? c["CommonTableExpr"] : undefined;
  return isRec(cte) && typeof cte["ctename"] === "string" ? cte["ctename"] : null;
}

/**
 * Whether EXPLAIN's options turn on ANALYZE (the statement then runs).
 * Mirrors Postgres' defGetBoolean: no argument, true/on, 1 → on; false/off,
 * 0 → off. Anything else (which Postgres would reject) counts as on, so a
 * spelling we misread can only make the verdict stricter.
 */
function explainAnalyzes(options: unknown): boolean {
  for (const opt of arr(options)) {
    const d = isRec(opt) ? opt["DefElem"] : undefined;
    if (!isRec(d) || typeof d["defname"] !== "string" || d["defname"].toLowerCase() !== "analyze") continue;
    if (defBoolean(d["arg"]) !== false) return true;
  }
  return false;
}

function defBoolean(arg: unknown): boolean | null {
  if (arg === undefined || arg === null) return true;
  if (!isRec(arg)) return null;
  const i = arg["Integer"];
  if (isRec(i)) {
    const v = i["ival"] ?? 0; // protobuf JSON omits a zero
    return v === 0 ? false : v === 1 ? true : null;
  }
  const b = arg["Boolean"];
  if (isRec(b)) return b["boolval"] === true;
  const s = arg["String"];
  if (isRec(s) && typeof s["sval"] === "string") {
    const v = s["sval"].toLowerCase();
    if (v === "true" || v === "on") return true;
    if (v === "false" || v === "off") return false;
  }
  return null;
}
