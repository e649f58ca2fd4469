/**
 * Gateway-level key/value state: the CA bundle (cert + key PEM, key
 * `tls.ca`, owned by the data plane's TLS module), later the WireGuard server
 * key — values minted once and then read on every boot. Keys are chosen by
 * the owning module; the store gives them no meaning.
 */
import type { Database, Statement } from "better-sqlite3";

/** Read/write access to the `settings` table. */
export class SettingsRepo {
  private readonly getStmt: Statement<[string], string>;
  private readonly upsertStmt: Statement<[string, string, number]>;
  private readonly insertIfAbsentStmt: Statement<[string, string, number]>;
  private readonly deleteStmt: Statement<[string]>;
  private readonly setIfAbsentTx: (key: string, value: string) => string;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.getStmt = db.prepare<[string], string>("SELECT value FROM settings WHERE key = ?").pluck();
    this.upsertStmt = db.prepare(
      "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) " +
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    );
    this.insertIfAbsentStmt = db.prepare(
      "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
    );
    this.deleteStmt = db.prepare("DELETE FROM settings WHERE key = ?");
    const tx = db.transaction((key: string, value: string): string => {
      this.insertIfAbsentStmt.run(key, value, this.now());
      return this.getStmt.get(key) as string;
    });
    // IMMEDIATE takes the write lock before the insert, so the read that
    // follows sees either our row or the one that beat us, never neither.
    this.setIfAbsentTx = (key, value) => tx.immediate(key, value);
  }

  /** The stored value, or undefined when the key was never set. */
  get(key: string): string | undefined {
    return this.getStmt.get(key);
  }

  /** Stores `value`, replacing any previous one. */
  set(key: string, value: string): void {
    this.upsertStmt.run(key, value, this.now());
  }

  /**
   * Stores `value` only if `key` has none, and returns whichever value is
   * stored afterwards. Two gateways minting a CA at the same moment both get
   * the first one written, so every leaf chains to a single root.
   */
  setIfAbsent(key: string, value: string): string {
    return this.setIfAbsentTx(key, value);
  }

  /** Removes `key`; true when it existed. */
  delete(key: string): boolean {
    return this.deleteStmt.run(key).changes > 0;
  }
}
