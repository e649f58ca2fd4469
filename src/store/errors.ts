/**
 * Store errors: one class with a machine-readable code, so the gateway can
 * print a one-line cause ("state_dir is not writable") instead of a SQLite
 * stack trace, and tests can assert on the kind of failure.
 */

export type StoreErrorCode =
  /** The state directory or database file cannot be created or written. */
  | "not_writable"
  /** The file exists but is not a SQLite database (or is encrypted). */
  | "not_sqlite"
  /** The file is a SQLite database whose pages are damaged. */
  | "corrupt"
  /** Another process holds the write lock longer than busy_timeout. */
  | "busy"
  /** The database was migrated by a newer build. */
  | "schema_too_new"
  /** The database's recorded migrations disagree with this build's list. */
  | "schema_mismatch"
  /** A migration threw; its transaction was rolled back. */
  | "migration_failed";

/** A failure to open or migrate the store, with a message fit for an operator. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}

/**
 * Maps an environmental SQLite failure (permissions, not-a-database,
 * corruption, lock contention) to a {@link StoreError}; returns undefined for
 * anything else (a bug, a constraint violation) so it propagates unchanged.
 */
export function classifySqliteError(err: unknown, file: string): StoreError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return undefined;
  const detail = err instanceof Error ? err.message : String(err);
  const opts = { cause: err };
  if (code === "SQLITE_NOTADB") {
    return new StoreError("not_sqlite", `${file} is not a SQLite database (${detail}); move it aside or point state_dir elsewhere`, opts);
  }
  if (code.startsWith("SQLITE_CORRUPT")) {
    return new StoreError("corrupt", `${file} is a damaged SQLite database (${detail}); restore it from a backup or move it aside`, opts);
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new StoreError("busy", `${file} is locked by another process (${detail})`, opts);
  }
  if (
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_IOERR") ||
    code === "SQLITE_PERM" ||
    code === "SQLITE_FULL"
  ) {
    return new StoreError("not_writable", `cannot write ${file} (${detail}); check the permissions and free space of state_dir`, opts);
  }
  return undefined;
}
