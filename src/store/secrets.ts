/**
 * Credential secrets, keyed by (credential name, slot) — e.g. ("github",
 * "token") or ("slack", "bot_token").
 *
 * Values are write-only from the operator's side: {@link SecretsRepo.status}
 * reports which slots are filled and when, and never reads the value column,
 * so an API built on it cannot leak a secret even by accident
 * (ARCHITECTURE §6.1). Only the data plane calls {@link SecretsRepo.get}.
 *
 * Known limitation: values are stored as given, not encrypted. Encrypting
 * them with a key kept next to the database (the only place an unattended
 * gateway can read it from at boot) would not protect against anyone who can
 * read `state_dir`; the protection today is the 0700 directory and 0600
 * database file. Encryption at rest becomes worthwhile once the key can live
 * elsewhere (OS keyring, KMS, an operator-supplied passphrase).
 */
import type { Database, Statement } from "better-sqlite3";

/** One filled slot, as the operator API may show it. No value, by design. */
export interface SecretSlotStatus {
  slot: string;
  /** Epoch milliseconds of the last `set`. */
  updatedAt: number;
}

/** The filled slots of one credential. */
export interface SecretStatus {
  name: string;
  slots: SecretSlotStatus[];
}

/** Read/write access to the `secrets` table. */
export class SecretsRepo {
  private readonly getStmt: Statement<[string, string], string>;
  private readonly upsertStmt: Statement<[string, string, string, number]>;
  private readonly clearOneStmt: Statement<[string, string]>;
  private readonly clearAllStmt: Statement<[string]>;
  private readonly statusStmt: Statement<[], { name: string; slot: string; updated_at: number }>;

  constructor(
    db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.getStmt = db.prepare<[string, string], string>("SELECT value FROM secrets WHERE name = ? AND slot = ?").pluck();
    this.upsertStmt = db.prepare(
      "INSERT INTO secrets (name, slot, value, updated_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (name, slot) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    );
    this.clearOneStmt = db.prepare("DELETE FROM secrets WHERE name = ? AND slot = ?");
    this.clearAllStmt = db.prepare("DELETE FROM secrets WHERE name = ?");
    // The value column is deliberately absent from this query.
    this.statusStmt = db.prepare("SELECT name, slot, updated_at FROM secrets ORDER BY name, slot");
  }

  /** Stores (or replaces) a secret. An empty value is refused: use {@link clear}. */
  set(name: string, slot: string, value: string): void {
    if (name === "" || slot === "") throw new RangeError("secret name and slot must be non-empty");
    if (typeof value !== "string" || value === "") {
      throw new RangeError(`secret ${name}.${slot}: value must be a non-empty string (use clear() to remove it)`);
    }
    this.upsertStmt.run(name, slot, value, this.now());
  }

  /** Removes one slot, or every slot of `name`; returns how many were removed. */
  clear(name: string, slot?: string): number {
    return (slot === undefined ? this.clearAllStmt.run(name) : this.clearOneStmt.run(name, slot)).changes;
  }

  /** The secret value — for the data plane's credential injection only. */
  get(name: string, slot: string): string | undefined {
    return this.getStmt.get(name, slot);
  }

  /** Which credentials have which slots filled, and since when. Never values. */
  status(): SecretStatus[] {
    const out: SecretStatus[] = [];
    for (const r of this.statusStmt.all()) {
      const last = out[out.length - 1];
      const slot = { slot: r.slot, updatedAt: r.updated_at };
      if (last !== undefined && last.name === r.name) last.slots.push(slot);
      else out.push({ name: r.name, slots: [slot] });
    }
    return out;
  }
}
