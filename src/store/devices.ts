/**
 * Enrolled devices (`devices`): WireGuard peers that asked to join, were
 * approved with a profile, or were blocked. The enrollment flow itself
 * belongs to the WireGuard transport; this is only its table.
 */
import type { Database, Statement } from "better-sqlite3";

export type DeviceStatus = "pending" | "active" | "blocked";

export interface DeviceRow {
  id: string;
  name: string;
  profile: string;
  status: DeviceStatus;
  /** Enrollment code the operator compares with the device's. */
  code: string;
  address: string;
  transport: string;
  createdAt: number;
  lastSeen: number | null;
  /** WireGuard public key (base64), '' for devices of other transports. */
  publicKey: string;
  /** SHA-256 (hex) of the secret the enrolling device polls with; '' when none. */
  secretHash: string;
}

export interface NewDevice {
  id: string;
  name: string;
  profile?: string;
  status?: DeviceStatus;
  code?: string;
  address?: string;
  transport?: string;
  publicKey?: string;
  secretHash?: string;
}

interface DbDevice {
  id: string;
  name: string;
  profile: string;
  status: DeviceStatus;
  code: string;
  address: string;
  transport: string;
  created_at: number;
  last_seen: number | null;
  public_key: string;
  secret_hash: string;
}

const toDevice = (r: DbDevice): DeviceRow => ({
  id: r.id,
  name: r.name,
  profile: r.profile,
  status: r.status,
  code: r.code,
  address: r.address,
  transport: r.transport,
  createdAt: r.created_at,
  lastSeen: r.last_seen,
  publicKey: r.public_key,
  secretHash: r.secret_hash,
});

/** Called after every write to the table (the WireGuard transport reloads its peers). */
export type DevicesListener = () => void;

/** Read/write access to the `devices` table. */
export class DevicesRepo {
  private readonly insertStmt: Statement<[string, string, string, string, string, string, string, number, string, string]>;
  private readonly byCodeStmt: Statement<[string], DbDevice>;
  private readonly byKeyStmt: Statement<[string], DbDevice>;
  private readonly activeStmt: Statement<[], DbDevice>;
  private readonly usedStmt: Statement<[], string>;
  private readonly pendingCountStmt: Statement<[], number>;
  private readonly activateTx: (id: string, profile: string, pick: (used: Set<string>) => string | undefined) => string | undefined;
  private readonly listeners = new Set<DevicesListener>();
  private readonly getStmt: Statement<[string], DbDevice>;
  private readonly listStmt: Statement<[], DbDevice>;
  private readonly approveStmt: Statement<[string, string]>;
  private readonly statusStmt: Statement<[string, string]>;
  private readonly seenStmt: Statement<[number, string]>;
  private readonly deleteStmt: Statement<[string]>;

  constructor(
    db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.insertStmt = db.prepare(
      "INSERT INTO devices (id, name, profile, status, code, address, transport, created_at, public_key, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.byCodeStmt = db.prepare("SELECT * FROM devices WHERE code = ? AND status = 'pending'");
    this.byKeyStmt = db.prepare("SELECT * FROM devices WHERE public_key = ?");
    this.activeStmt = db.prepare("SELECT * FROM devices WHERE status = 'active' ORDER BY created_at, id");
    this.usedStmt = db.prepare<[], string>("SELECT address FROM devices WHERE address <> ''").pluck();
    this.pendingCountStmt = db.prepare<[], number>("SELECT COUNT(*) FROM devices WHERE status = 'pending'").pluck();
    const setAddress = db.prepare<[string, string, string]>("UPDATE devices SET status = 'active', profile = ?, address = ?, code = '' WHERE id = ?");
    const tx = db.transaction((id: string, profile: string, pick: (used: Set<string>) => string | undefined): string | undefined => {
      const row = this.getStmt.get(id);
      if (!row) return undefined;
      let address = row.address;
      if (address === "") {
        const chosen = pick(new Set(this.usedStmt.all()));
        if (chosen === undefined) throw new Error("no free address left in the WireGuard subnet");
        address = chosen;
      }
      setAddress.run(profile, address, id);
      return address;
    });
    // IMMEDIATE: two approvals at once never pick the same address.
    this.activateTx = (id, profile, pick) => tx.immediate(id, profile, pick);
    this.getStmt = db.prepare("SELECT * FROM devices WHERE id = ?");
    this.listStmt = db.prepare("SELECT * FROM devices ORDER BY created_at DESC, id");
    this.approveStmt = db.prepare("UPDATE devices SET status = 'active', profile = ? WHERE id = ?");
    this.statusStmt = db.prepare("UPDATE devices SET status = ? WHERE id = ?");
    this.seenStmt = db.prepare("UPDATE devices SET last_seen = ? WHERE id = ?");
    this.deleteStmt = db.prepare("DELETE FROM devices WHERE id = ?");
  }

  /** Records a device (pending unless a status is given). Throws when the id exists. */
  add(d: NewDevice): DeviceRow {
    this.insertStmt.run(
      d.id, d.name, d.profile ?? "", d.status ?? "pending", d.code ?? "", d.address ?? "", d.transport ?? "", this.now(),
      d.publicKey ?? "", d.secretHash ?? "",
    );
    this.changed();
    return this.get(d.id)!;
  }

  /** The pending device enrolled with `code`. */
  byCode(code: string): DeviceRow | undefined {
    const r = this.byCodeStmt.get(code);
    return r === undefined ? undefined : toDevice(r);
  }

  byPublicKey(publicKey: string): DeviceRow | undefined {
    const r = this.byKeyStmt.get(publicKey);
    return r === undefined ? undefined : toDevice(r);
  }

  /** Active devices, oldest first (the WireGuard peers). */
  active(): DeviceRow[] {
    return this.activeStmt.all().map(toDevice);
  }

  pendingCount(): number {
    return this.pendingCountStmt.get() ?? 0;
  }

  /**
   * Activates a device with a profile, keeping its address or giving it the
   * one `pick` chooses among the free ones (atomically, under the write
   * lock). Returns the address ('' when `pick` returns ''), undefined when
   * the device is unknown; throws when `pick` finds no free address.
   */
  activate(id: string, profile: string, pick: (used: Set<string>) => string | undefined): string | undefined {
    const address = this.activateTx(id, profile, pick);
    if (address !== undefined) this.changed();
    return address;
  }

  /** Registers a write listener; returns the unsubscribe function. */
  onChange(listener: DevicesListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        /* a listener must not break a write */
      }
    }
  }

  get(id: string): DeviceRow | undefined {
    const r = this.getStmt.get(id);
    return r === undefined ? undefined : toDevice(r);
  }

  /** Newest first. */
  list(): DeviceRow[] {
    return this.listStmt.all().map(toDevice);
  }

  /** Activates a device with a profile; false when unknown. */
  approve(id: string, profile: string): boolean {
    const ok = this.approveStmt.run(profile, id).changes > 0;
    if (ok) this.changed();
    return ok;
  }

  setStatus(id: string, status: DeviceStatus): boolean {
    const ok = this.statusStmt.run(status, id).changes > 0;
    if (ok) this.changed();
    return ok;
  }

  touch(id: string, at: number = this.now()): void {
    this.seenStmt.run(at, id);
  }

  delete(id: string): boolean {
    const ok = this.deleteStmt.run(id).changes > 0;
    if (ok) this.changed();
    return ok;
  }
}
