/**
 * The gateway's state store: one SQLite database, `<state_dir>/clawpatrol.db`.
 *
 * Layout
 * - `db.ts` (this file) opens the file safely (0700 directory, 0600 file,
 *   WAL, foreign keys, busy timeout), migrates it, and hands out a
 *   {@link Store} holding one repository per table group.
 * - `migrations.ts` is the schema: an ordered list of numbered migrations.
 * - `settings.ts`, `secrets.ts`, `actions.ts`, `stats.ts` (read-only
 *   aggregates), `users.ts` (operators, sessions, API tokens), `devices.ts`
 *   are the repositories: small
 *   classes over the open database with prepared statements; nothing outside
 *   `src/store/` writes SQL.
 * - `errors.ts` turns environmental failures into a {@link StoreError} with a
 *   code and an operator-readable message.
 * The store imports neither the data plane nor the web layer; the `gateway`
 * command wires it to both (ARCHITECTURE §3).
 *
 * Migration rules
 * - Append-only. Never edit, renumber or delete a migration that has shipped:
 *   databases in the field recorded it as applied and will not run it again,
 *   so an edit silently forks the schema. Change the schema by appending the
 *   next version. Names are recorded too, and a mismatch refuses to open.
 * - Each migration runs in its own transaction with its `schema_migrations`
 *   row; one that throws leaves the database at the previous version.
 * - A database whose version is newer than this build knows is refused
 *   rather than used: an older build cannot know what the newer columns mean.
 * - Migrations must not contain statements SQLite refuses inside a
 *   transaction (`PRAGMA journal_mode`, `VACUUM`); per-connection pragmas
 *   belong in {@link openStore}.
 */
import Database from "better-sqlite3";
import type { Database as Db } from "better-sqlite3";
import * as fs from "node:fs";
import * as path from "node:path";
import { ActionsRepo } from "./actions.js";
import { StoreError, classifySqliteError } from "./errors.js";
import { runMigrations } from "./migrations.js";
import { SecretsRepo } from "./secrets.js";
import { SettingsRepo } from "./settings.js";
import { DevicesRepo } from "./devices.js";
import { StatsRepo } from "./stats.js";
import { UsersRepo } from "./users.js";

export { StoreError } from "./errors.js";
export type { StoreErrorCode } from "./errors.js";

/** File name inside state_dir. */
export const DB_FILENAME = "clawpatrol.db";

/** How long a writer waits for another process's lock before failing. */
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** An open, migrated database and its repositories. */
export interface Store {
  /** The raw handle, for repositories added later and for tests. */
  readonly db: Db;
  /** Absolute path of the database file, or `:memory:`. */
  readonly path: string;
  readonly settings: SettingsRepo;
  readonly secrets: SecretsRepo;
  readonly actions: ActionsRepo;
  /** Read-only aggregates over `actions` (analytics, rule hits). */
  readonly stats: StatsRepo;
  /** Operator accounts, dashboard sessions, API tokens. */
  readonly users: UsersRepo;
  readonly devices: DevicesRepo;
  /** Schema version after opening. */
  readonly schemaVersion: number;
  /** Versions this open applied (empty when the database was current), for the boot log. */
  readonly migrated: readonly number[];
  /** Non-fatal findings for the boot log (e.g. a state_dir readable by others). */
  readonly warnings: readonly string[];
  /** Closes the database; safe to call twice. */
  close(): void;
}

export interface StoreOptions {
  /** Clock for `updated_at` / `applied_at` columns. */
  now?: () => number;
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the store in `stateDir`. Throws a
 * {@link StoreError} when the directory or file cannot be written, the file
 * is not a SQLite database, or its schema is newer than this build.
 */
export function openStore(stateDir: string, options: StoreOptions = {}): Store {
  const dir = path.resolve(stateDir);
  const file = path.join(dir, DB_FILENAME);
  const warnings: string[] = [];

  prepareDirectory(dir, warnings);
  prepareFile(file);

  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw classifySqliteError(err, file) ?? notWritable(`cannot open ${file}`, err);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
    // The first statement that reads the file: a non-database fails here.
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") {
      throw new StoreError("not_writable", `${file}: SQLite refused WAL journal mode (got ${String(mode)}); is state_dir on a network file system?`);
    }
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    const store = finishOpen(db, file, options, warnings);
    tightenSidecars(file);
    return store;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw classifySqliteError(err, file) ?? err;
  }
}

/** A private in-memory store (tests, `clawpatrol test`): same schema, nothing on disk. */
export function openMemoryStore(options: StoreOptions = {}): Store {
  const db = new Database(":memory:");
  try {
    db.pragma("foreign_keys = ON");
    return finishOpen(db, ":memory:", options, []);
  } catch (err) {
    db.close();
    throw err;
  }
}

function finishOpen(db: Db, file: string, options: StoreOptions, warnings: string[]): Store {
  const now = options.now ?? Date.now;
  const { applied, version } = runMigrations(db, undefined, now);
  return {
    db,
    path: file,
    settings: new SettingsRepo(db, now),
    secrets: new SecretsRepo(db, now),
    actions: new ActionsRepo(db),
    stats: new StatsRepo(db),
    users: new UsersRepo(db, now),
    devices: new DevicesRepo(db, now),
    schemaVersion: version,
    migrated: applied,
    warnings,
    close() {
      if (!db.open) return;
      try {
        db.pragma("optimize"); // refreshes planner statistics the list filters rely on
      } catch {
        // best effort: closing must not fail because the disk filled up
      }
      db.close();
    },
  };
}

/** Creates the state directory 0700 if missing; checks an existing one is a writable directory. */
function prepareDirectory(dir: string, warnings: string[]): void {
  try {
    const created = fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; make the result exact.
    if (created !== undefined) fs.chmodSync(dir, 0o700);
  } catch (err) {
    throw notWritable(`cannot create state directory ${dir}`, err);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    throw notWritable(`cannot read state directory ${dir}`, err);
  }
  if (!st.isDirectory()) throw new StoreError("not_writable", `state directory ${dir} exists but is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw notWritable(`state directory ${dir} is not writable`, err);
  }
  if ((st.mode & 0o077) !== 0) {
    warnings.push(`state directory ${dir} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`);
  }
}

/**
 * Creates the database file 0600 before SQLite does (SQLite would use the
 * umask, typically 0644), and tightens an existing one: it holds the CA key
 * and credential secrets. SQLite gives the -wal/-shm files the same mode.
 */
function prepareFile(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  } catch (err) {
    throw notWritable(`cannot open ${file} for writing`, err);
  }
  try {
    if ((fs.fstatSync(fd).mode & 0o777) !== 0o600) fs.fchmodSync(fd, 0o600);
  } catch (err) {
    throw notWritable(`cannot set permissions 0600 on ${file}`, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Tightens -wal/-shm left behind with a looser mode by an older build or another tool. */
function tightenSidecars(file: string): void {
  for (const suffix of ["-wal", "-shm"]) {
    try {
      const st = fs.statSync(file + suffix);
      if ((st.mode & 0o077) !== 0) fs.chmodSync(file + suffix, 0o600);
    } catch {
      // absent, or owned by someone else: nothing we can do here
    }
  }
}

function notWritable(what: string, err: unknown): StoreError {
  const detail = err instanceof Error ? err.message : String(err);
  return new StoreError("not_writable", `${what}: ${detail}`, { cause: err });
}
