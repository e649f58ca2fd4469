/**
 * Logs (does not assert) the per-statement cost of analyzeSql on typical
 * agent traffic, next to the cost of the bare parse, so a regression in the
 * walk is visible. Project target: a full SQL decision p50 ≤ 50 µs including
 * parsing.
 */
import { before, it } from "node:test";
import assert from "node:assert/strict";
import { parseSync } from "libpg-query";
import { analyzeSql, initSqlAnalyzer } from "./analyze.js";

before(async () => {
  await initSqlAnalyzer();
});

const TYPICAL = [
  "select * from users where id = $1",
  "SELECT u.id, u.email, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.created_at > now() - interval '1 day' ORDER BY o.total DESC LIMIT 50",
  "insert into events (kind, payload, created_at) values ($1, $2, now()) returning id",
  "update accounts set balance = balance - $1, updated_at = now() where id = $2",
  "delete from sessions where expires_at < now()",
  "begin",
  "commit",
  "with recent as (select * from orders where created_at > now() - interval '7 days') select status, count(*) from recent group by status",
  "select count(*) from pg_stat_activity where state = 'active'",
  "show search_path",
  "select c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' order by 2 desc limit 20",
  "explain select * from orders where customer_id = 42",
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function timeEach(fn: (q: string) => unknown, rounds: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const q of TYPICAL) {
      const t0 = process.hrtime.bigint();
      fn(q);
      out.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  return out;
}

it("logs the median analyzeSql time per statement", () => {
  for (const q of TYPICAL) assert.ok(analyzeSql(q).ok, q);
  timeEach(analyzeSql, 300); // warm up
  timeEach(parseSync, 300);
  const rounds = 400; // ~5,000 statements
  const analyze = timeEach(analyzeSql, rounds);
  const parse = timeEach(parseSync, rounds);
  console.log(
    `sql analysis: ${analyze.length} typical statements, median analyzeSql ${median(analyze).toFixed(1)} µs ` +
      `(parse alone ${median(parse).toFixed(1)} µs); target for a full decision p50 ≤ 50 µs`,
  );
});
