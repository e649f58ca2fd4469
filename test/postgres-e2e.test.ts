// Postgres interception end to end: a real cluster (scram, md5 and cleartext
// roles, TLS on), the gateway in this process, and real clients — psql,
// node-postgres (extended protocol), pgbench — holding only a placeholder
// password.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { pgToolsMissing } from "../src/testing/pg-cluster.js";
import { agentEnv, PASSWORDS, PLACEHOLDER, psql, spawnClient, startPgWorld, type PgWorld } from "./postgres-kit.js";

const skip = pgToolsMissing();

describe("postgres through the gateway", { skip }, () => {
  let w: PgWorld;
  before(async () => {
    w = await startPgWorld();
  });
  after(async () => {
    await w?.close();
  });

  /** Every sql audit row (paged: lists are capped). */
  const rows = async (text?: string) => {
    w.gw.flushAudit();
    const out = [];
    let before: number | undefined;
    for (;;) {
      const page = w.gw.store.actions.list({ family: "sql", limit: 500, ...(text ? { text } : {}), ...(before !== undefined ? { before } : {}) });
      out.push(...page.rows);
      if (page.nextBefore === null) return out;
      before = page.nextBefore;
    }
  };

  it("the agent's environment holds only a placeholder, never a real password", () => {
    const env = JSON.stringify(agentEnv());
    for (const pw of Object.values(PASSWORDS)) assert.ok(!env.includes(pw));
    assert.equal(agentEnv().PGPASSWORD, PLACEHOLDER);
  });

  it("psql: reads allowed, a write denied with the reason, the next statement in the session works", async () => {
    const r = await psql(w.ports.db, "app", ["select name from items where id = 2", "delete from items where id = 1", "select count(*) from items"]);
    assert.equal(r.stdout.trim().split("\n").join("|"), "item 2|5", r.stderr);
    assert.match(r.stderr, /ERROR: {2}read-only access: writes are not allowed/);
    assert.equal(await w.pg.sql("select count(*) from items", { database: "appdb" }), "5");
  });

  it("logs in upstream with each password method (SCRAM, MD5, cleartext) using the stored secret", async () => {
    for (const user of ["app", "appmd5", "appclear"]) {
      const r = await psql(w.ports.db, user, ["select current_user"]);
      assert.equal(r.stdout.trim(), user, `${user}: ${r.stderr}`);
    }
    const methods = await w.pg.sql("select user_name[1] || ':' || auth_method from pg_hba_file_rules where user_name[1] like 'app%' order by 1");
    assert.match(methods, /appclear:password/);
    assert.match(methods, /appmd5:md5/);
  });

  it("agent TLS (disable / prefer / require / verify-full with the gateway CA) and upstream sslmode require / verify-full", async () => {
    const ca = join(w.dir, "gateway-ca.pem");
    writeFileSync(ca, w.gw.ca.certPem);
    for (const mode of ["disable", "prefer", "require"]) {
      const r = await psql(w.ports.db, "app", ["select 'ok'"], { PGSSLMODE: mode });
      assert.equal(r.stdout.trim(), "ok", `${mode}: ${r.stderr}`);
    }
    // verify-full: the agent checks the gateway's leaf against the name it dialed.
    const args = ["-h", "db.internal", "-p", String(w.ports.db), "-U", "app", "-d", "appdb", "-X", "-A", "-t", "-w", "-c", "select 'verified'"];
    const env = agentEnv({ PGSSLMODE: "verify-full", PGSSLROOTCERT: ca, PGHOSTADDR: "127.0.0.1" });
    const v = await spawnClient("psql", args, { env });
    assert.equal(v.stdout.trim(), "verified", v.stderr);
    // Upstream TLS: the session itself reports whether its backend connection is encrypted.
    const sslOf = async (port: number) => (await psql(port, "app", ["select ssl from pg_stat_ssl where pid = pg_backend_pid()"])).stdout.trim();
    assert.equal(await sslOf(w.ports.db), "f", "sslmode disable");
    assert.equal(await sslOf(w.ports.tls), "t", "sslmode verify-full");
    assert.equal(await sslOf(w.ports.req), "t", "sslmode require");
    // verify-full against a server whose certificate the endpoint does not trust (no ca_cert: system roots only).
    const bad = await psql(w.ports.badca, "app", ["select 1"]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /FATAL: {2}TLS to the upstream server failed: .*(self.signed|unable to verify|certificate)/i);
  });

  it("denies hostile SQL end to end, and the upstream shows none of its effects", async () => {
    const marker = join(w.pg.dir, "copy-program-ran");
    const hostile = [
      "select 1; drop table items",
      "with gone as (delete from items returning *) select count(*) from gone",
      "explain analyze delete from items",
      "select * into stolen from items",
      "do $$ begin execute 'drop table items'; end $$",
      `copy items to program 'touch ${marker}'`,
      "select 1; update items set name = 'pwned'",
    ];
    for (const sql of hostile) {
      const r = await psql(w.ports.db, "app", [sql]);
      assert.match(r.stderr, /ERROR: {2}read-only access: writes are not allowed/, `${sql}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), "", `${sql} must not return rows`);
    }
    assert.equal(await w.pg.sql("select count(*) || ':' || count(*) filter (where name like 'item %') from items", { database: "appdb" }), "5:5");
    assert.equal(await w.pg.sql("select count(*) from pg_tables where tablename = 'stolen'", { database: "appdb" }), "0");
    assert.equal(existsSync(marker), false, "COPY ... TO PROGRAM never ran");
  });

  it("node-postgres: parameterized queries (extended protocol); a denied one errors with 42501 and the next works", async () => {
    const client = new pg.Client({ host: "127.0.0.1", port: w.ports.db, user: "app", password: PLACEHOLDER, database: "appdb" });
    await client.connect();
    try {
      const a = await client.query("select name from items where id = $1", [3]);
      assert.deepEqual(a.rows, [{ name: "item 3" }]);
      const named = { name: "by-id", text: "select name from items where id = $1" };
      assert.equal((await client.query({ ...named, values: [4] })).rows[0].name, "item 4");
      assert.equal((await client.query({ ...named, values: [5] })).rows[0].name, "item 5");
      await assert.rejects(client.query("delete from items where id = $1", [1]), (e: Error & { code?: string }) => {
        assert.equal(e.code, "42501");
        assert.equal(e.message, "read-only access: writes are not allowed");
        return true;
      });
      assert.equal((await client.query("select count(*)::int as n from items")).rows[0].n, 5);
      // Inside a transaction a deny does not abort it: the status stays "in transaction".
      await client.query("begin");
      await assert.rejects(client.query("insert into items values ($1, $2)", [99, "x"]));
      assert.equal((await client.query("select count(*)::int as n from items")).rows[0].n, 5);
      await client.query("commit");
    } finally {
      await client.end();
    }
  });

  it("pgbench -S runs through the gateway in simple and extended mode", async () => {
    const direct = { ...w.pg.env({ database: "appdb" }) };
    const init = await spawnClient("pgbench", ["-i", "-s", "1", "-q", "appdb"], { env: direct, timeoutMs: 60_000 });
    assert.equal(init.status, 0, init.stderr);
    await w.pg.sql("grant select on all tables in schema public to app", { database: "appdb" });
    for (const mode of ["simple", "extended"]) {
      const r = await spawnClient(
        "pgbench",
        ["-S", "-n", "-M", mode, "-c", "4", "-j", "2", "-t", "100", "-h", "127.0.0.1", "-p", String(w.ports.db), "-U", "app", "appdb"],
        { env: agentEnv(), timeoutMs: 60_000 },
      );
      assert.equal(r.status, 0, `${mode}: ${r.stderr}`);
      assert.match(r.stdout, /number of transactions actually processed: 400\/400/, r.stdout);
      assert.match(r.stdout, /number of failed transactions: 0/);
    }
    const selects = (await rows("abalance")).filter((x) => x.verdict === "allow" && (x.facets as { result?: { rows?: number } }).result?.rows === 1);
    assert.ok(selects.length >= 800, `one audit row per statement (${selects.length})`);
  });

  it("Ctrl-C in psql during pg_sleep(30) cancels the statement within a second", async () => {
    let kill: ((s: NodeJS.Signals) => void) | undefined;
    let sentAt = 0;
    const running = psql(w.ports.db, "app", ["select pg_sleep(30)"], {}, { onSpawn: (c) => (kill = (sig) => c.kill(sig)) });
    await new Promise((r) => setTimeout(r, 1500));
    sentAt = Date.now();
    kill!("SIGINT");
    const r = await running;
    const took = Date.now() - sentAt;
    assert.match(r.stderr, /canceling statement due to user request/, r.stderr);
    assert.ok(took < 1000, `psql returned ${took} ms after Ctrl-C`);
  });

  it("an approval-gated statement waits for the operator: allow runs it, deny refuses it", async () => {
    const decideNext = (verdict: "allow" | "deny") =>
      new Promise<void>((resolve) => {
        const off = w.gw.approvals.subscribe((e) => {
          if (e.type !== "pending") return;
          off();
          assert.match(e.approval.subject.summary, /approval_zone/);
          setTimeout(() => {
            w.gw.approvals.decide(e.approval.id, verdict, "alice", verdict === "deny" ? "not now" : undefined);
            resolve();
          }, 200);
        });
      });
    const allowed = decideNext("allow");
    const r1 = await psql(w.ports.db, "app", ["select id from approval_zone"]);
    await allowed;
    assert.equal(r1.stdout.trim(), "42", r1.stderr);
    const denied = decideNext("deny");
    const r2 = await psql(w.ports.db, "app", ["select id from approval_zone", "select 'after'"]);
    await denied;
    assert.match(r2.stderr, /ERROR/);
    assert.equal(r2.stdout.trim(), "after");
    const audit = (await rows()).filter((x) => x.rule === "approval-zone");
    assert.ok(audit.some((x) => x.verdict === "allow" && x.approvals.some((a) => a.by === "alice")));
    assert.ok(audit.some((x) => x.verdict === "deny"));
  });

  it("a statement over the 1 MiB inspection buffer fails closed and the session stays usable", async () => {
    const client = new pg.Client({ host: "127.0.0.1", port: w.ports.db, user: "app", password: PLACEHOLDER, database: "appdb" });
    await client.connect();
    try {
      const big = `select length('${"x".repeat(1536 * 1024)}')`;
      await assert.rejects(client.query(big), (e: Error & { code?: string }) => {
        assert.equal(e.code, "42501");
        assert.match(e.message, /could not be evaluated against this request \(truncated at the inspection buffer\); failing closed/);
        return true;
      });
      const small = await client.query(`select length('${"x".repeat(1000)}') as n`);
      assert.equal(small.rows[0].n, 1000);
    } finally {
      await client.end();
    }
    const truncated = (await rows()).find((x) => x.flags.includes("inspection_truncated"));
    assert.ok(truncated && truncated.verdict === "deny");
  });

  it("audits one action per statement: verdict, rule, rows from CommandComplete, duration", async () => {
    await psql(w.ports.db, "app", ["select id from items where id <= 3; select 1", "update items set name = 'x'"]);
    const all = await rows();
    const sel = all.find((x) => x.summary === "select id from items where id <= 3");
    assert.ok(sel, "the first statement of the multi-statement query has its own row");
    assert.equal(sel.verdict, "allow");
    assert.equal(sel.credential, "app");
    assert.equal(sel.device, "laptop");
    assert.deepEqual((sel.facets as { result?: unknown }).result, { tag: "SELECT 3", rows: 3 });
    assert.ok(typeof sel.latencyMs === "number" && sel.latencyMs >= 0);
    assert.deepEqual((sel.facets as { sql: { tables: string[] } }).sql.tables, ["items"]);
    const upd = all.find((x) => x.summary === "update items set name = 'x'");
    assert.ok(upd);
    assert.equal(upd.verdict, "deny");
    assert.equal(upd.rule, "read-only");
    assert.equal(upd.reason, "read-only access: writes are not allowed");
    for (const row of all) for (const pw of Object.values(PASSWORDS)) assert.ok(!JSON.stringify(row).includes(pw), "no secret in the audit");
  });

  it("a user no credential serves gets FATAL 28000 that says what to fix", async () => {
    const r = await psql(w.ports.db, "mallory", ["select 1"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /FATAL: {2}clawpatrol: no credential for user "mallory" on database "appdb" at postgres\.db \(profile "agents"\)/);
    assert.match(r.stderr, /HINT: {2}Bind a postgres_credential/);
  });
});
