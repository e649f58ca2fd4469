/**
 * The throwaway PostgreSQL kit against real binaries: per-role auth methods
 * (SCRAM, MD5, cleartext) over TCP, TLS with require and verify-full, a wrong
 * password rejected, pgbench through PgBouncer, and cleanup of the temp dir.
 * Skipped locally when the tooling is missing; a failure in CI.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnCapture } from "./spawn.js";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pgToolsMissing, startPgBouncer, startPgCluster, type PgCluster, type PgRole } from "./pg-cluster.js";

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Ran> {
  return spawnCapture(cmd, args, { env, timeoutMs });
}

const pw = () => randomBytes(12).toString("hex");
const roles: PgRole[] = [
  { name: "app_scram", password: pw(), auth: "scram-sha-256" },
  { name: "app_md5", password: pw(), auth: "md5" },
  { name: "app_plain", password: pw(), auth: "password" },
];
const skip = pgToolsMissing();

describe("pg-cluster", { skip }, () => {
  let pg: PgCluster;
  let caFile: string;
  const t0 = Date.now();

  before(async () => {
    pg = await startPgCluster({ ssl: true, roles, databases: ["app"] });
    caFile = join(pg.dir, "client-ca.pem");
    writeFileSync(caFile, pg.caPem ?? "");
  });
  after(async () => {
    await pg?.stop();
  });

  it("starts quickly and runs superuser SQL over the socket", async () => {
    assert.ok(Date.now() - t0 < 15_000, `startup took ${Date.now() - t0} ms`);
    assert.equal(await pg.sql("select 1+1"), "2");
    assert.equal(await pg.sql("select current_database()", { database: "app" }), "app");
    assert.equal(await pg.sql("show password_encryption"), "scram-sha-256");
    await assert.rejects(pg.sql("select * from nope"), /nope/);
  });

  it("stores md5 verifiers for md5 roles and scram for the rest", async () => {
    const rows = await pg.sql("select rolname || '=' || left(rolpassword, 3) from pg_authid where rolname like 'app%' order by 1");
    assert.deepEqual(rows.split("\n"), ["app_md5=md5", "app_plain=SCR", "app_scram=SCR"]);
  });

  it("each role logs in over TCP with its own auth method", async () => {
    for (const r of [...roles, { name: "postgres", password: pg.superPassword }]) {
      const res = await run("psql", ["-XAtc", "select current_user"], pg.env({ user: r.name, password: r.password, database: "app" }));
      assert.equal(res.status, 0, `${r.name}: ${res.stderr}`);
      assert.equal(res.stdout.trim(), r.name);
    }
    const methods = await pg.sql("select user_name[1] || '=' || auth_method from pg_hba_file_rules where type = 'host' order by line_number");
    assert.deepEqual(methods.split("\n").slice(0, 3), ["app_scram=scram-sha-256", "app_md5=md5", "app_plain=password"]);
  });

  it("accepts TLS with sslmode=require and verify-full against the CA", async () => {
    const r = roles[0]!;
    const req = await run("psql", ["-XAtc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"], pg.env({ user: r.name, password: r.password, sslmode: "require" }));
    assert.equal(req.status, 0, req.stderr);
    assert.equal(req.stdout.trim(), "t");
    const env = pg.env({ user: r.name, password: r.password, sslmode: "verify-full", sslrootcert: caFile });
    env.PGHOST = "localhost";
    const full = await run("psql", ["-XAtc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"], env);
    assert.equal(full.status, 0, full.stderr);
    assert.equal(full.stdout.trim(), "t");
    // Plain connections still work (pg_hba uses `host`, not `hostssl`).
    const plain = await run("psql", ["-XAtc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"], pg.env({ user: r.name, password: r.password }));
    assert.equal(plain.stdout.trim(), "f", plain.stderr);
  });

  it("rejects a wrong password for every auth method", async () => {
    for (const r of roles) {
      const res = await run("psql", ["-XAtc", "select 1"], pg.env({ user: r.name, password: "wrong" }));
      assert.notEqual(res.status, 0);
      assert.match(res.stderr, /password authentication failed/);
    }
  });

  it("runs pgbench through pgbouncer", async () => {
    const r = roles[0]!;
    const direct = pg.env({ user: r.name, password: r.password, database: "app" });
    const init = await run("pgbench", ["-i", "-s", "1", "-q"], direct, 60_000);
    assert.equal(init.status, 0, init.stderr);
    const bouncer = await startPgBouncer(pg, { user: r.name, password: r.password, database: "app" });
    try {
      const env = { ...direct, PGHOST: bouncer.host, PGPORT: String(bouncer.port) };
      const bench = await run("pgbench", ["-S", "-c", "2", "-T", "1", "-n"], env, 60_000);
      assert.equal(bench.status, 0, bench.stderr + bench.stdout);
      const tps = /tps = ([\d.]+)/.exec(bench.stdout);
      assert.ok(tps && Number(tps[1]) > 0, bench.stdout);
      const bad = await run("psql", ["-XAtc", "select 1"], { ...env, PGPASSWORD: "wrong" });
      assert.notEqual(bad.status, 0);
    } finally {
      await bouncer.stop();
    }
  });

  it("stop() shuts the server down and removes the directory", async () => {
    const dir = pg.dir;
    const port = pg.port;
    await pg.stop();
    await pg.stop(); // idempotent
    assert.equal(existsSync(dir), false);
    const res = await run("psql", ["-XAtc", "select 1"], { ...pg.env(), PGPORT: String(port), PGCONNECT_TIMEOUT: "2" });
    assert.notEqual(res.status, 0);
  });
});
