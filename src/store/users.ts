/**
 * Operator accounts: `users`, their dashboard sessions (`web_sessions`) and
 * their API tokens (`api_tokens`).
 *
 * The store keeps only what cannot be replayed: a password hash (computed
 * by the web layer), and the SHA-256 of each session cookie and API token.
 * It knows nothing about how those are derived; callers pass hashes in.
 * Deleting a user cascades to its sessions and tokens (foreign keys).
 */
import type { Database, Statement } from "better-sqlite3";

export type UserRole = "admin" | "approver" | "viewer";
export const USER_ROLES: readonly UserRole[] = ["admin", "approver", "viewer"];

export interface UserRow {
  username: string;
  role: UserRole;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

export interface SessionRow {
  tokenHash: string;
  username: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface ApiTokenRow {
  id: string;
  username: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

interface DbUser {
  username: string;
  role: UserRole;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

interface DbSession {
  token_hash: string;
  username: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

interface DbToken {
  id: string;
  username: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

const toUser = (r: DbUser): UserRow => ({ username: r.username, role: r.role, passwordHash: r.password_hash, createdAt: r.created_at, updatedAt: r.updated_at });
const toSession = (r: DbSession): SessionRow => ({ tokenHash: r.token_hash, username: r.username, csrfToken: r.csrf_token, createdAt: r.created_at, expiresAt: r.expires_at });
const toToken = (r: DbToken): ApiTokenRow => ({ id: r.id, username: r.username, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at });

/** Refused because it would leave no admin (deleting or demoting the last one). */
export class LastAdminError extends Error {
  constructor() {
    super("refused: this is the last admin");
    this.name = "LastAdminError";
  }
}

/** Read/write access to `users`, `web_sessions` and `api_tokens`. */
export class UsersRepo {
  private readonly s: {
    count: Statement<[], number>;
    adminCount: Statement<[], number>;
    get: Statement<[string], DbUser>;
    list: Statement<[], DbUser>;
    insert: Statement<[string, string, string, number, number]>;
    setPassword: Statement<[string, number, string]>;
    setRole: Statement<[string, number, string]>;
    del: Statement<[string]>;
    delAllUsers: Statement<[]>;
    sessInsert: Statement<[string, string, string, number, number]>;
    sessGet: Statement<[string], DbSession>;
    sessDel: Statement<[string]>;
    sessDelUser: Statement<[string]>;
    sessDelAll: Statement<[]>;
    sessDelExpired: Statement<[number]>;
    tokInsert: Statement<[string, string, string, string, number]>;
    tokByHash: Statement<[string], DbToken>;
    tokList: Statement<[string], DbToken>;
    tokDel: Statement<[string, string]>;
    tokTouch: Statement<[number, string]>;
  };

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.s = {
      count: db.prepare<[], number>("SELECT COUNT(*) FROM users").pluck(),
      adminCount: db.prepare<[], number>("SELECT COUNT(*) FROM users WHERE role = 'admin'").pluck(),
      get: db.prepare("SELECT * FROM users WHERE username = ?"),
      list: db.prepare("SELECT * FROM users ORDER BY username"),
      insert: db.prepare("INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"),
      setPassword: db.prepare("UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?"),
      setRole: db.prepare("UPDATE users SET role = ?, updated_at = ? WHERE username = ?"),
      del: db.prepare("DELETE FROM users WHERE username = ?"),
      delAllUsers: db.prepare("DELETE FROM users"),
      sessInsert: db.prepare("INSERT INTO web_sessions (token_hash, username, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)"),
      sessGet: db.prepare("SELECT * FROM web_sessions WHERE token_hash = ?"),
      sessDel: db.prepare("DELETE FROM web_sessions WHERE token_hash = ?"),
      sessDelUser: db.prepare("DELETE FROM web_sessions WHERE username = ?"),
      sessDelAll: db.prepare("DELETE FROM web_sessions"),
      sessDelExpired: db.prepare("DELETE FROM web_sessions WHERE expires_at <= ?"),
      tokInsert: db.prepare("INSERT INTO api_tokens (id, username, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)"),
      tokByHash: db.prepare("SELECT id, username, name, created_at, last_used_at FROM api_tokens WHERE token_hash = ?"),
      tokList: db.prepare("SELECT id, username, name, created_at, last_used_at FROM api_tokens WHERE username = ? ORDER BY created_at, id"),
      tokDel: db.prepare("DELETE FROM api_tokens WHERE id = ? AND username = ?"),
      tokTouch: db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"),
    };
  }

  // --- users

  count(): number {
    return this.s.count.get() ?? 0;
  }

  get(username: string): UserRow | undefined {
    const r = this.s.get.get(username);
    return r === undefined ? undefined : toUser(r);
  }

  list(): UserRow[] {
    return this.s.list.all().map(toUser);
  }

  /** Creates a user; throws when the name is taken. */
  create(username: string, role: UserRole, passwordHash: string): UserRow {
    const now = this.now();
    this.s.insert.run(username, role, passwordHash, now, now);
    return this.get(username)!;
  }

  /**
   * Creates the first admin only while no user exists (first-run setup).
   * Returns false when someone already did — checked under the write lock,
   * so two concurrent setups cannot both win.
   */
  createFirstAdmin(username: string, passwordHash: string): boolean {
    return this.db
      .transaction((): boolean => {
        if (this.count() > 0) return false;
        this.create(username, "admin", passwordHash);
        return true;
      })
      .immediate();
  }

  /** Sets (or creates, as admin) `username` with this password and ends every session. For the CLI. */
  setRootPassword(username: string, passwordHash: string): void {
    this.db
      .transaction(() => {
        const u = this.get(username);
        if (u === undefined) this.create(username, "admin", passwordHash);
        else {
          this.s.setPassword.run(passwordHash, this.now(), username);
          this.s.setRole.run("admin", this.now(), username);
        }
        this.s.sessDelAll.run();
      })
      .immediate();
  }

  /** Replaces a password and ends that user's sessions. False when the user does not exist. */
  setPassword(username: string, passwordHash: string): boolean {
    return this.db
      .transaction((): boolean => {
        const changed = this.s.setPassword.run(passwordHash, this.now(), username).changes > 0;
        if (changed) this.s.sessDelUser.run(username);
        return changed;
      })
      .immediate();
  }

  /** Changes a role; refuses to demote the last admin. False when the user does not exist. */
  setRole(username: string, role: UserRole): boolean {
    return this.db
      .transaction((): boolean => {
        const u = this.get(username);
        if (u === undefined) return false;
        if (u.role === "admin" && role !== "admin" && (this.s.adminCount.get() ?? 0) <= 1) throw new LastAdminError();
        this.s.setRole.run(role, this.now(), username);
        return true;
      })
      .immediate();
  }

  /** Deletes a user (sessions and tokens go with it); refuses the last admin. */
  delete(username: string): boolean {
    return this.db
      .transaction((): boolean => {
        const u = this.get(username);
        if (u === undefined) return false;
        if (u.role === "admin" && (this.s.adminCount.get() ?? 0) <= 1) throw new LastAdminError();
        return this.s.del.run(username).changes > 0;
      })
      .immediate();
  }

  /** Deletes every user, session and token: first-run setup applies again. For the CLI. */
  reset(): number {
    return this.db
      .transaction((): number => {
        this.s.sessDelAll.run();
        return this.s.delAllUsers.run().changes;
      })
      .immediate();
  }

  // --- sessions

  createSession(tokenHash: string, username: string, csrfToken: string, expiresAt: number): SessionRow {
    const now = this.now();
    this.s.sessInsert.run(tokenHash, username, csrfToken, now, expiresAt);
    return { tokenHash, username, csrfToken, createdAt: now, expiresAt };
  }

  /** A live session; expired ones are deleted and not returned. */
  session(tokenHash: string): SessionRow | undefined {
    const r = this.s.sessGet.get(tokenHash);
    if (r === undefined) return undefined;
    if (r.expires_at <= this.now()) {
      this.s.sessDel.run(tokenHash);
      return undefined;
    }
    return toSession(r);
  }

  deleteSession(tokenHash: string): void {
    this.s.sessDel.run(tokenHash);
  }

  deleteSessionsOf(username: string): number {
    return this.s.sessDelUser.run(username).changes;
  }

  deleteAllSessions(): number {
    return this.s.sessDelAll.run().changes;
  }

  deleteExpiredSessions(): number {
    return this.s.sessDelExpired.run(this.now()).changes;
  }

  // --- API tokens

  createToken(id: string, username: string, name: string, tokenHash: string): ApiTokenRow {
    const now = this.now();
    this.s.tokInsert.run(id, username, name, tokenHash, now);
    return { id, username, name, createdAt: now, lastUsedAt: null };
  }

  tokenByHash(tokenHash: string): ApiTokenRow | undefined {
    const r = this.s.tokByHash.get(tokenHash);
    return r === undefined ? undefined : toToken(r);
  }

  tokensOf(username: string): ApiTokenRow[] {
    return this.s.tokList.all(username).map(toToken);
  }

  /** Revokes one of `username`'s tokens; false when it is not theirs or does not exist. */
  deleteToken(id: string, username: string): boolean {
    return this.s.tokDel.run(id, username).changes > 0;
  }

  touchToken(id: string, at: number = this.now()): void {
    this.s.tokTouch.run(at, id);
  }
}
