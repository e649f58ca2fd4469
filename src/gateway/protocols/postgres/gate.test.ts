import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { analyzeSql, initSqlAnalyzer } from "../../../policy/sql/analyze.js";
import { analyzeCached, numberShape } from "./gate.js";

describe("statement analysis cache", () => {
  before(() => initSqlAnalyzer());

  it("shapes only texts where a number cannot hide in a string, identifier or comment", () => {
    assert.equal(numberShape("select * from t1 where aid = 4711"), "select * from t1 where aid = 0000");
    assert.equal(numberShape("select 1.5e10"), "select 0.0e10");
    for (const t of ["select '1'", 'select "c1" from t', "select $1", "select 1 -- 2", "select /* 1 */ 2", "select 1 from tã1", "select E'\\\\1'", "select * from t"]) {
      assert.equal(numberShape(t), undefined, t);
    }
  });

  it("the hand-written shape scan agrees with its regular-expression definition on random text", () => {
    // The definition the scan implements: bail on anything a digit could hide in, else zero every free-standing number.
    const byRegex = (text: string): string | undefined => {
      if (/['"$\\]|--|\/\*|[^\x00-\x7f]/.test(text)) return undefined;
      let changed = false;
      const shape = text.replace(/(?<![A-Za-z0-9_])[0-9]+/g, (d) => ((changed = true), "0".repeat(d.length)));
      return changed ? shape : undefined;
    };
    const alphabet = ["1", "23", "a", "_", " ", ".", "e", "Z", "-", "/", "*", "'", '"', "$", "\\", "(", ")", ",", "x9", "é", "\n"];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 5000; i++) {
      let t = "";
      for (let k = rand(24); k > 0; k--) t += alphabet[rand(alphabet.length)];
      assert.equal(numberShape(t), byRegex(t), JSON.stringify(t));
    }
  });

  it("a cached shape gives exactly what a fresh analysis gives, statement texts included", () => {
    const pairs = [
      ["select abalance from pgbench_accounts where aid = 1", "select abalance from pgbench_accounts where aid = 99999"],
      ["select 1; delete from t where id = 2", "select 7; delete from t where id = 8"],
      ["update t set v = 1 where id = 2;  select 3", "update t set v = 10 where id = 20;  select 30"],
      ["select * from t limit 5 offset 10", "select * from t limit 50 offset 1"],
      ["select f(1, 2), g(3)", "select f(4, 5), g(6)"],
    ];
    for (const [warm, probe] of pairs) {
      analyzeCached(warm!);
      assert.deepEqual(analyzeCached(probe!), analyzeSql(probe!), probe);
    }
  });

  it("texts of the same shape but different lengths never share an analysis", () => {
    analyzeCached("select * from t where id = 1");
    const a = analyzeCached("select * from t where id = 10; drop table t");
    assert.ok(a.ok && a.statements.length === 2 && a.statements[1]!.verb === "drop");
  });
});
