/**
 * SQL queries as decisions: a query may hold several statements, each is its
 * own action, and the query is denied if any statement is denied.
 *
 * Shared by every SQL front end (Postgres, ClickHouse, `clawpatrol test`) so
 * they agree on how a multi-statement query and an unparseable one are judged.
 */
import type { OpClass, UnknownFacet } from "./action.js";
import type { Decision } from "./decide.js";
import type { SqlAnalysis } from "./sql/analyze.js";

/** The parser-derived SQL facets of one statement. */
export interface SqlDerivation {
  verb: string;
  verbs: string[];
  tables: string[];
  functions: string[];
  opClass?: OpClass;
  /** Fields the analyzer could not derive (e.g. `sql.verb`: unparseable). */
  unknown?: UnknownFacet[];
}

/** What the analyzer knows about one statement, in the shape actions are built from. */
export interface StatementView extends SqlDerivation {
  /** The statement's own text (the whole query when it could not be parsed). */
  statement: string;
}

/** Facet fields an unparseable statement leaves unknown (`sql.statement` stays known). */
export const UNPARSEABLE_FIELDS = ["sql.verb", "sql.verbs", "sql.tables", "sql.functions", "op.class"] as const;

/**
 * One view per statement. An unparseable query is one view whose
 * parser-derived fields are unknown; an empty query (only comments or
 * whitespace) yields no views.
 */
export function statementViews(text: string, analysis: SqlAnalysis): StatementView[] {
  if (!analysis.ok) {
    return [
      {
        statement: text,
        verb: "",
        verbs: [],
        tables: [],
        functions: [],
        unknown: UNPARSEABLE_FIELDS.map((field) => ({ field, cause: "unparseable" as const })),
      },
    ];
  }
  return analysis.statements.map((s) => ({
    statement: s.statement,
    verb: s.verb,
    verbs: s.verbs,
    tables: s.tables,
    functions: s.functions,
    opClass: s.opClass,
  }));
}

/**
 * Combines per-statement decisions: the first deny wins; otherwise the first
 * approval; otherwise the first statement's allow. An empty query is allowed.
 */
export function combineStatementDecisions(decisions: readonly Decision[]): Decision | undefined {
  return decisions.find((d) => d.verdict === "deny") ?? decisions.find((d) => d.verdict === "approve") ?? decisions[0];
}
