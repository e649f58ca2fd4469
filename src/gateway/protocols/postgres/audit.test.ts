import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Action } from "../../../policy/action.js";
import type { CompiledEndpoint } from "../../../policy/compiled.js";
import { StatementAudit } from "./audit.js";
import type { GateSession } from "./gate.js";

const session: GateSession = {
  endpoint: { key: "postgres.db" } as CompiledEndpoint,
  host: "db.internal",
  device: "laptop",
  profile: "agents",
  transport: "forward",
  user: "app",
  database: "bench",
  credential: "postgres_credential.app",
};

function statement(text: string, shared?: { verbs: string[]; tables: string[]; functions: string[] }, opClass?: Action["opClass"]): StatementAudit {
  const sql = { verb: "select", verbs: shared?.verbs ?? ["select"], tables: shared?.tables ?? ["t"], functions: shared?.functions ?? [], statement: text, database: session.database };
  const action: Action = { family: "sql", host: session.host, sql, ...(opClass ? { opClass } : {}) };
  return new StatementAudit({ action, decision: { verdict: "allow" } }, "allow", "", []);
}

describe("Postgres statement audit rows", () => {
  it("the pre-serialized facets are byte-for-byte JSON.stringify of the facets object", () => {
    const shared = { verbs: ["select"], tables: ["pgbench_accounts"], functions: ["now"] };
    const texts = [
      "SELECT abalance FROM pgbench_accounts WHERE aid = 1;",
      'select "weird ""name""", \'it\'\'s\' from t',
      "select '\\\\ backslash', E'\\n' -- comment\n/* block */",
      "select 'ünïcödé ✓ 🐘', '\u2028\u2029'",
      "select '\u0000\u001f control'",
      "x".repeat(5000),
    ];
    for (const text of texts) {
      for (const op of [undefined, "read" as const]) {
        const a = statement(text, shared, op);
        a.tag = "SELECT 1";
        const row = a.finish(session, 4096)!;
        assert.ok(row.facetsJson !== undefined, "the fast path was taken");
        assert.equal(row.facetsJson, JSON.stringify(row.facets), text.slice(0, 40));
      }
    }
  });

  it("a shape's cached analysis JSON is not reused for a different analysis sharing the verbs array", () => {
    const verbs = ["select"];
    const first = statement("select 1", { verbs, tables: ["a"], functions: [] }).finish(session, 4096)!;
    const second = statement("select 2", { verbs, tables: ["b"], functions: [] }).finish(session, 4096)!;
    assert.equal(first.facetsJson, JSON.stringify(first.facets));
    assert.equal(second.facetsJson, JSON.stringify(second.facets));
    assert.match(second.facetsJson!, /"tables":\["b"\]/);
  });

  it("error codes and flags land in the row, and a statement finishes once", () => {
    const a = statement("select 1");
    a.errorCode = "57014";
    a.addFlag("upstream_error");
    a.addFlag("upstream_error");
    const row = a.finish(session, 4096, "incomplete")!;
    assert.deepEqual(row.flags, ["upstream_error", "incomplete"]);
    assert.equal(row.facetsJson, JSON.stringify(row.facets));
    assert.deepEqual((row.facets as { result: unknown }).result, { error_code: "57014" });
    assert.equal(a.finish(session, 4096), undefined);
  });

  it("a statement longer than the sample is cut in both the facets and their JSON", () => {
    const row = statement("select '" + "y".repeat(300) + "'").finish(session, 64)!;
    const sql = (row.facets as { sql: { statement: string } }).sql;
    assert.equal(Buffer.byteLength(sql.statement), 64);
    assert.equal(row.facetsJson, JSON.stringify(row.facets));
  });
});
