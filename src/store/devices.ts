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
}

export interface NewDevice {
  id: string;
  name: string;
  profile?: string;
  status?: DeviceStatus;
  code?: string;
  address?: string;
  transport?: string;
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
});

/** Read/write access to the `devices` table. */
export class DevicesRepo {
  private readonly insertStmt: Statement<[string, string, string, string, string, string, string, number]>;
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
      "INSERT INTO devices (id, name, profile, status, code, address, transport, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.getStmt = db.prepare("SELECT * FROM devices WHERE id = ?");
    this.listStmt = db.prepare("SELECT * FROM devices ORDER BY created_at DESC, id");
    this.approveStmt = db.prepare("UPDATE devices SET status = 'active', profile = ? WHERE id = ?");
    this.statusStmt = db.prepare("UPDATE devices SET status = ? WHERE id = ?");
    this.seenStmt = db.prepare("UPDATE devices SET last_seen = ? WHERE id = ?");
    this.deleteStmt = db.prepare("DELETE FROM devices WHERE id = ?");
  }

  /** Records a device (pending unless a status is given). Throws when the id exists. */
  add(d: NewDevice): DeviceRow {
    this.insertStmt.run(d.id, d.name, d.profile ?? "", d.status ?? "pending", d.code ?? "", d.address ?? "", d.transport ?? "", this.now());
    return this.get(d.id)!;
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
    return this.approveStmt.run(profile, id).changes > 0;
  }

  setStatus(id: string, status: DeviceStatus): boolean {
    return this.statusStmt.run(status, id).changes > 0;
  }

  touch(id: string, at: number = this.now()): void {
    this.seenStmt.run(at, id);
  }

  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes > 0;
  }
}
