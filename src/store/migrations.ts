/**
 * Versioned schema migrations (rules in the header of `db.ts`).
 *
 * The list below is append-only: a migration that has shipped is never
 * edited, renumbered or removed, because databases in the field already
 * recorded it as applied and would never run the edited text. To change the
 * schema, append a new migration with the next version number.
 */
import type { Database } from "better-sqlite3";
import { StoreError, classifySqliteError } from "./errors.js";

/** One schema step: applied once, in its own transaction, then recorded. */
export interface Migration {
  /** 1, 2, 3, ... — contiguous, in list order. */
  version: number;
  /** Short stable identifier; recorded next to the version and checked on open. */
  name: string;
  /**
   * SQL run with `exec`, or a function for steps SQL alone cannot express
   * (data rewrites). Must not use statements SQLite refuses inside a
   * transaction (`PRAGMA journal_mode`, `VACUUM`).
   */
  up: string | ((db: Database) => void);
}

/** The schema, in order. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "settings",
    up: `
      CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: "secrets",
    up: `
      CREATE TABLE secrets (
        name       TEXT NOT NULL,
        slot       TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (name, slot)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: "actions",
    // AUTOINCREMENT: ids are never reused, even after retention deletes the
    // newest rows, so keyset cursors and live-tail "last seen id" stay valid.
    // Single-column indexes end in the rowid implicitly, so `WHERE device = ?
    // ORDER BY id DESC` walks idx_actions_device without a sort.
    up: `
      CREATE TABLE actions (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        time         INTEGER NOT NULL,
        device       TEXT NOT NULL DEFAULT '',
        profile      TEXT NOT NULL DEFAULT '',
        transport    TEXT NOT NULL DEFAULT '',
        endpoint     TEXT NOT NULL DEFAULT '',
        family       TEXT NOT NULL DEFAULT '',
        host         TEXT NOT NULL DEFAULT '',
        credential   TEXT NOT NULL DEFAULT '',
        rule         TEXT NOT NULL DEFAULT '',
        verdict      TEXT NOT NULL
                     CHECK (verdict IN ('allow', 'deny', 'approve', 'passthrough', 'error')),
        reason       TEXT NOT NULL DEFAULT '',
        approvals    TEXT NOT NULL DEFAULT '[]',
        facets       TEXT NOT NULL DEFAULT '{}',
        summary      TEXT NOT NULL DEFAULT '',
        status       INTEGER,
        latency_ms   REAL,
        bytes_in     INTEGER NOT NULL DEFAULT 0,
        bytes_out    INTEGER NOT NULL DEFAULT 0,
        req_headers  TEXT,
        req_body     BLOB,
        resp_headers TEXT,
        resp_body    BLOB,
        flags        TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX idx_actions_time          ON actions (time);
      CREATE INDEX idx_actions_device        ON actions (device);
      CREATE INDEX idx_actions_profile       ON actions (profile);
      CREATE INDEX idx_actions_endpoint      ON actions (endpoint);
      CREATE INDEX idx_actions_endpoint_time ON actions (endpoint, time);
      CREATE INDEX idx_actions_verdict       ON actions (verdict);
      CREATE INDEX idx_actions_rule          ON actions (rule);
      CREATE INDEX idx_actions_family        ON actions (family);
    `,
  },
  {
    // Every secondary index is paid on each audited statement (Postgres
    // sessions write thousands of rows a second). Keep what list and
    // analytics queries use: time, endpoint (its rowid order serves the
    // newest-first lists without a sort; retention filters its time), and
    // rules that fired (partial: default-allowed rows have no rule and are
    // most rows).
    version: 4,
    name: "actions_lean_indexes",
    up: `
      DROP INDEX idx_actions_device;
      DROP INDEX idx_actions_profile;
      DROP INDEX idx_actions_endpoint_time;
      DROP INDEX idx_actions_verdict;
      DROP INDEX idx_actions_family;
      DROP INDEX idx_actions_rule;
      CREATE INDEX idx_actions_rule_time ON actions (rule, time) WHERE rule <> '';
    `,
  },
  {
    // Operator accounts for the dashboard and API. Only hashes are stored:
    // the scrypt password hash, the SHA-256 of each session cookie and API
    // token. Deleting a user ends its sessions and revokes its tokens.
    version: 5,
    name: "operator_auth",
    up: `
      CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'approver', 'viewer')),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX idx_web_sessions_username ON web_sessions (username);
      CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        token_hash   TEXT NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX idx_api_tokens_username ON api_tokens (username);
    `,
  },
  {
    // Devices enrolled over WireGuard (pending until an operator approves
    // them with a profile). Devices that only appear in the audit log (local
    // transports) are not rows here.
    version: 6,
    name: "devices",
    up: `
      CREATE TABLE devices (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        profile    TEXT NOT NULL DEFAULT '',
        status     TEXT NOT NULL CHECK (status IN ('pending', 'active', 'blocked')),
        code       TEXT NOT NULL DEFAULT '',
        address    TEXT NOT NULL DEFAULT '',
        transport  TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        last_seen  INTEGER
      ) WITHOUT ROWID;
    `,
  },
  {
    // WireGuard enrollment: the peer's public key, the hash of the secret the
    // joining device polls its enrollment with, and uniqueness of keys and
    // tunnel addresses (a peer can never share another's address).
    version: 7,
    name: "devices_wireguard",
    up: `
      ALTER TABLE devices ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
      ALTER TABLE devices ADD COLUMN secret_hash TEXT NOT NULL DEFAULT '';
      CREATE UNIQUE INDEX idx_devices_public_key ON devices (public_key) WHERE public_key <> '';
      CREATE UNIQUE INDEX idx_devices_address ON devices (address) WHERE address <> '';
      CREATE INDEX idx_devices_code ON devices (code) WHERE code <> '';
    `,
  },
];

/** What {@link runMigrations} did, for logs and tests. */
export interface MigrationResult {
  /** Versions applied by this call, in order (empty when already current). */
  applied: number[];
  /** Schema version after the call. */
  version: number;
}

/** Throws when a list breaks the numbering rules, so a bad append fails at the first open. */
export function checkMigrationList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration list: entry ${i} has version ${m.version}, expected ${i + 1} (versions must be 1..n in order)`);
    }
    if (!/^[a-z0-9_]+$/.test(m.name)) {
      throw new Error(`migration list: version ${m.version} has an invalid name ${JSON.stringify(m.name)}`);
    }
  });
}

/** The highest recorded version (0 for a fresh database). */
export function schemaVersion(db: Database): number {
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Brings `db` up to the last version in `list`.
 *
 * Each pending migration runs in its own IMMEDIATE transaction together with
 * its `schema_migrations` row, so a failure rolls back that step completely
 * and leaves the recorded version where it was. The version is re-read under
 * the write lock, so two processes opening the same fresh database apply
 * each step once.
 *
 * @param now clock for `applied_at` (the store takes no hidden clock in tests)
 */
export function runMigrations(
  db: Database,
  list: readonly Migration[] = MIGRATIONS,
  now: () => number = Date.now,
): MigrationResult {
  checkMigrationList(list);
  db.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )
  `);
  const known = list.length;
  const current = schemaVersion(db);
  if (current > known) {
    throw new StoreError(
      "schema_too_new",
      `database schema version ${current} is newer than this build of clawpatrol supports (version ${known}); ` +
        `upgrade clawpatrol, or point state_dir at another directory`,
    );
  }
  // A recorded name that differs from ours means someone edited a shipped
  // migration, or the database comes from a diverging build: refuse rather
  // than guess which schema is on disk.
  const recorded = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all() as {
    version: number;
    name: string;
  }[];
  for (const r of recorded) {
    const ours = list[r.version - 1];
    if (ours !== undefined && ours.name !== r.name) {
      throw new StoreError(
        "schema_mismatch",
        `database records migration ${r.version} as "${r.name}" but this build calls it "${ours.name}"; ` +
          `the database was written by an incompatible build`,
      );
    }
  }

  const isApplied = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").pluck();
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  const applied: number[] = [];
  for (const m of list.slice(current)) {
    const step = db.transaction((): boolean => {
      if (isApplied.get(m.version) !== undefined) return false; // another process got here first
      if (typeof m.up === "string") db.exec(m.up);
      else m.up(db);
      record.run(m.version, m.name, now());
      return true;
    });
    try {
      if (step.immediate()) applied.push(m.version);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      // Permissions, corruption and lock failures say nothing about the
      // migration itself; let the caller report them as what they are.
      if (classifySqliteError(err, "database") !== undefined) throw err;
      throw new StoreError(
        "migration_failed",
        `migration ${m.version} (${m.name}) failed and was rolled back; schema stays at version ${m.version - 1}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
  return { applied, version: schemaVersion(db) };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
