import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import Database from "better-sqlite3";
import { DB_FILENAME, StoreError, openMemoryStore, openStore } from "./db.js";
import { MIGRATIONS } from "./migrations.js";
import { modeOf, tempDir } from "./test-helpers.js";

const tmp = tempDir();
after(() => tmp.cleanup());
let n = 0;
const freshDir = (): string => path.join(tmp.dir, `case-${++n}`);

function assertStoreError(fn: () => unknown, code: string, ...mustMention: string[]): StoreError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StoreError, `expected a StoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const s of mustMention) assert.ok(caught.message.includes(s), `message ${JSON.stringify(caught.message)} should mention ${s}`);
  return caught;
}

/**
 * Opens a store as an unprivileged user. Root ignores permission bits, so
 * when the tests run as root the attempt happens in a child process as `nobody`.
 */
function openUnprivileged(dir: string): { ok: boolean; code?: string; message?: string } {
  if (process.getuid?.() !== 0) {
    try {
      openStore(dir).close();
      return { ok: true };
    } catch (err) {
      return { ok: false, code: (err as StoreError).code, message: (err as Error).message };
    }
  }
  const dbUrl = new URL("./db.js", import.meta.url).href;
  const script =
    `const { openStore } = await import(${JSON.stringify(dbUrl)});` +
    `try { openStore(${JSON.stringify(dir)}).close(); console.log(JSON.stringify({ ok: true })); }` +
    `catch (e) { console.log(JSON.stringify({ ok: false, code: e.code, message: e.message })); }`;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { uid: 65534, gid: 65534, encoding: "utf8" });
  assert.equal(res.status, 0, `child failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim()) as { ok: boolean; code?: string; message?: string };
}

describe("openStore", () => {
  it("turns on WAL, foreign keys, synchronous=NORMAL and a busy timeout", () => {
    const store = openStore(freshDir());
    try {
      assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
      assert.equal(store.db.pragma("foreign_keys", { simple: true }), 1);
      assert.equal(store.db.pragma("synchronous", { simple: true }), 1); // NORMAL
      assert.ok((store.db.pragma("busy_timeout", { simple: true }) as number) >= 1000);
    } finally {
      store.close();
    }
  });

  it("creates a missing state_dir (and parents) 0700 and the database 0600, -wal/-shm included", () => {
    const dir = path.join(freshDir(), "nested", "state");
    const store = openStore(dir);
    try {
      store.settings.set("k", "v"); // forces -wal to exist
      assert.equal(modeOf(dir), 0o700);
      assert.equal(modeOf(path.dirname(dir)), 0o700);
      assert.equal(modeOf(path.join(dir, DB_FILENAME)), 0o600);
      assert.equal(modeOf(path.join(dir, `${DB_FILENAME}-wal`)), 0o600);
      assert.equal(modeOf(path.join(dir, `${DB_FILENAME}-shm`)), 0o600);
      assert.equal(store.path, path.join(dir, DB_FILENAME));
      assert.deepEqual(store.warnings, []);
    } finally {
      store.close();
    }
  });

  it("ignores a restrictive umask: the directory still ends up exactly 0700", () => {
    const old = process.umask(0o277);
    const dir = freshDir();
    try {
      openStore(dir).close();
    } finally {
      process.umask(old);
    }
    assert.equal(modeOf(dir), 0o700);
  });

  it("tightens an existing database file to 0600 and warns about a shared state_dir", () => {
    const dir = freshDir();
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, DB_FILENAME);
    fs.writeFileSync(file, ""); // an empty file is a valid, empty database
    fs.chmodSync(file, 0o644);
    const store = openStore(dir);
    try {
      assert.equal(modeOf(file), 0o600);
      assert.equal(modeOf(dir), 0o755, "an existing directory is the operator's choice; only warn");
      assert.equal(store.warnings.length, 1);
      assert.match(store.warnings[0]!, /accessible to other users/);
    } finally {
      store.close();
    }
  });

  it("keeps data across reopen and applies no migrations the second time", () => {
    const dir = freshDir();
    const a = openStore(dir);
    assert.deepEqual(a.migrated, MIGRATIONS.map((m) => m.version));
    a.settings.set("ca.cert_pem", "PEM");
    a.close();
    a.close(); // idempotent
    const b = openStore(dir);
    try {
      assert.deepEqual(b.migrated, []);
      assert.equal(b.schemaVersion, MIGRATIONS.length);
      assert.equal(b.settings.get("ca.cert_pem"), "PEM");
    } finally {
      b.close();
    }
  });

  it("refuses garbage in clawpatrol.db with a clear error and leaves the file untouched", () => {
    for (const garbage of [
      Buffer.concat([Buffer.from("this is not a database\n"), Buffer.alloc(8192, 0xa5)]),
      Buffer.from("hello"),
    ]) {
      const dir = freshDir();
      fs.mkdirSync(dir, { mode: 0o700 });
      const file = path.join(dir, DB_FILENAME);
      fs.writeFileSync(file, garbage);
      assertStoreError(() => openStore(dir), "not_sqlite", file, "not a SQLite database");
      assert.deepEqual(fs.readFileSync(file), garbage);
    }
  });

  it("refuses a database whose schema is newer than this build, naming both versions", () => {
    const dir = freshDir();
    openStore(dir).close();
    const file = path.join(dir, DB_FILENAME);
    const future = MIGRATIONS.length + 5;
    const raw = new Database(file);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)").run(future);
    raw.close();
    assertStoreError(() => openStore(dir), "schema_too_new", `version ${future}`, `version ${MIGRATIONS.length}`);
    // Refusing must not touch the database.
    const check = new Database(file, { readonly: true });
    assert.equal(check.prepare("SELECT MAX(version) FROM schema_migrations").pluck().get(), future);
    check.close();
  });

  it("refuses a database whose recorded migration names disagree with this build", () => {
    const dir = freshDir();
    openStore(dir).close();
    const raw = new Database(path.join(dir, DB_FILENAME));
    raw.prepare("UPDATE schema_migrations SET name = 'something_else' WHERE version = 2").run();
    raw.close();
    assertStoreError(() => openStore(dir), "schema_mismatch", "something_else", MIGRATIONS[1]!.name);
  });

  it("reports a state_dir that is a file, or under a file, as not writable", () => {
    const file = path.join(freshDir());
    fs.writeFileSync(file, "x");
    assertStoreError(() => openStore(file), "not_writable", file);
    assertStoreError(() => openStore(path.join(file, "sub")), "not_writable", "sub");
  });

  it("reports a read-only state_dir as not writable", () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.chmodSync(tmp.dir, 0o755); // let an unprivileged child reach it
    fs.chmodSync(dir, 0o555);
    const res = openUnprivileged(dir);
    assert.equal(res.ok, false);
    assert.equal(res.code, "not_writable", res.message);
    assert.match(res.message!, /not writable/);
    assert.ok(res.message!.includes(dir));
  });

  it("reports a database file the process may not write as not writable", () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    openStore(dir).close();
    fs.chmodSync(tmp.dir, 0o755);
    fs.chmodSync(dir, 0o777);
    fs.chmodSync(path.join(dir, DB_FILENAME), 0o444);
    const res = openUnprivileged(dir);
    assert.equal(res.ok, false);
    assert.equal(res.code, "not_writable", res.message);
    assert.ok(res.message!.includes(DB_FILENAME));
  });
});

describe("openMemoryStore", () => {
  it("has the full schema and working repositories without touching disk", () => {
    const store = openMemoryStore();
    try {
      assert.equal(store.path, ":memory:");
      assert.equal(store.schemaVersion, MIGRATIONS.length);
      store.settings.set("a", "b");
      assert.equal(store.settings.get("a"), "b");
      const id = store.actions.insert({ time: 1, verdict: "allow" });
      assert.equal(store.actions.get(id)?.verdict, "allow");
    } finally {
      store.close();
    }
  });

  it("gives each call its own database", () => {
    const a = openMemoryStore();
    const b = openMemoryStore();
    a.settings.set("k", "a");
    assert.equal(b.settings.get("k"), undefined);
    a.close();
    b.close();
  });
});
