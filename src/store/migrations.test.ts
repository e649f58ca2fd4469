import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import type { Database as Db } from "better-sqlite3";
import { StoreError } from "./errors.js";
import { MIGRATIONS, checkMigrationList, runMigrations, schemaVersion, type Migration } from "./migrations.js";

const tables = (db: Db): string[] =>
  db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];

const recorded = (db: Db): { version: number; name: string; applied_at: number }[] =>
  db.prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").all() as {
    version: number;
    name: string;
    applied_at: number;
  }[];

function withDb(fn: (db: Db) => void): void {
  const db = new Database(":memory:");
  try {
    fn(db);
  } finally {
    db.close();
  }
}

const boom: Migration["up"] = () => {
  throw new Error("must not run again");
};

describe("runMigrations", () => {
  it("applies every migration to a fresh database and records each with its name and time", () => {
    withDb((db) => {
      const res = runMigrations(db, MIGRATIONS, () => 1234);
      assert.deepEqual(res.applied, MIGRATIONS.map((m) => m.version));
      assert.equal(res.version, MIGRATIONS.length);
      assert.deepEqual(recorded(db), MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: 1234 })));
      assert.deepEqual(tables(db), ["actions", "api_tokens", "devices", "schema_migrations", "secrets", "settings", "users", "web_sessions"]);
    });
  });

  it("applies nothing when the database is current", () => {
    withDb((db) => {
      runMigrations(db, MIGRATIONS, () => 1);
      const again = runMigrations(db, MIGRATIONS, () => 2);
      assert.deepEqual(again.applied, []);
      assert.ok(recorded(db).every((r) => r.applied_at === 1));
    });
  });

  it("brings a database at version N to the latest by applying only N+1..", () => {
    withDb((db) => {
      assert.deepEqual(runMigrations(db, MIGRATIONS.slice(0, 1)).applied, [1]);
      assert.deepEqual(tables(db), ["schema_migrations", "settings"]);
      // Version 1 would throw if it ran again: proves it is skipped, not re-run.
      const list: Migration[] = [{ ...MIGRATIONS[0]!, up: boom }, ...MIGRATIONS.slice(1)];
      const res = runMigrations(db, list);
      assert.deepEqual(res.applied, MIGRATIONS.slice(1).map((m) => m.version));
      assert.equal(schemaVersion(db), MIGRATIONS.length);
    });
  });

  it("rolls back a migration that throws and leaves the version unchanged", () => {
    withDb((db) => {
      const list: Migration[] = [
        { version: 1, name: "one", up: "CREATE TABLE one (x INTEGER)" },
        {
          version: 2,
          name: "two",
          up: (d) => {
            d.exec("CREATE TABLE two (x INTEGER); INSERT INTO one VALUES (42);");
            throw new Error("disk on fire");
          },
        },
        { version: 3, name: "three", up: "CREATE TABLE three (x INTEGER)" },
      ];
      let caught: unknown;
      try {
        runMigrations(db, list);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof StoreError);
      assert.equal(caught.code, "migration_failed");
      assert.match(caught.message, /migration 2 \(two\)/);
      assert.match(caught.message, /disk on fire/);
      assert.equal(schemaVersion(db), 1);
      assert.deepEqual(tables(db), ["one", "schema_migrations"], "no table from the failed or later steps");
      assert.equal(db.prepare("SELECT COUNT(*) FROM one").pluck().get(), 0, "the failed step's writes are gone");

      // Fixed in a later build: resumes at 2.
      const fixed: Migration[] = [list[0]!, { version: 2, name: "two", up: "CREATE TABLE two (x INTEGER)" }, list[2]!];
      assert.deepEqual(runMigrations(db, fixed).applied, [2, 3]);
    });
  });

  it("rolls back a SQL migration that fails halfway", () => {
    withDb((db) => {
      const list: Migration[] = [{ version: 1, name: "half", up: "CREATE TABLE ok (x INTEGER); CREATE TABLE broken (" }];
      assert.throws(() => runMigrations(db, list), (e: unknown) => e instanceof StoreError && e.code === "migration_failed");
      assert.equal(schemaVersion(db), 0);
      assert.deepEqual(tables(db), ["schema_migrations"]);
    });
  });

  it("runs function migrations with the database, e.g. to rewrite data", () => {
    withDb((db) => {
      const list: Migration[] = [
        { version: 1, name: "kv", up: "CREATE TABLE kv (k TEXT, v TEXT); INSERT INTO kv VALUES ('a', 'x')" },
        { version: 2, name: "upper", up: (d) => d.prepare("UPDATE kv SET v = upper(v)").run() },
      ];
      runMigrations(db, list);
      assert.equal(db.prepare("SELECT v FROM kv").pluck().get(), "X");
    });
  });
});

describe("the migration list", () => {
  it("numbers 1..n in order with valid names", () => {
    checkMigrationList(MIGRATIONS);
    const m = (version: number, name = `m${version}`): Migration => ({ version, name, up: "" });
    assert.throws(() => checkMigrationList([m(1), m(3)]), /expected 2/);
    assert.throws(() => checkMigrationList([m(2)]), /expected 1/);
    assert.throws(() => checkMigrationList([m(1), m(1)]), /expected 2/);
    assert.throws(() => checkMigrationList([m(1, "Has Space")]), /invalid name/);
  });

  /**
   * Shipped migrations are frozen: databases in the field recorded them as
   * applied and will never run an edited version. If this fails you edited a
   * shipped migration — revert it and append a new one instead. When you
   * append, add its fingerprint here.
   */
  it("has not edited a shipped migration", () => {
    const shipped: [number, string, string][] = [
      [1, "settings", "5902c57eb40b92af"],
      [2, "secrets", "a97493de08422f25"],
      [3, "actions", "69ec739879d6c702"],
      [4, "actions_lean_indexes", "4914b0650cb8be5d"],
      [5, "operator_auth", "813986e0b72db3f1"],
      [6, "devices", "462a2a3ea820f00a"],
      [7, "devices_wireguard", "c5197ef95feff281"],
    ];
    const fingerprint = (m: Migration): string =>
      createHash("sha256").update(String(m.up).replace(/\s+/g, " ").trim()).digest("hex").slice(0, 16);
    assert.ok(MIGRATIONS.length >= shipped.length, "a shipped migration was removed");
    for (const [version, name, hash] of shipped) {
      const m = MIGRATIONS[version - 1]!;
      assert.equal(m.name, name, `migration ${version} was renamed`);
      assert.equal(fingerprint(m), hash, `migration ${version} (${name}) was edited`);
    }
  });
});
