/**
 * Who is calling: resolves the session cookie or the API token of a request
 * to a {@link Principal}, logs people in and out, and holds the rules that
 * span users, sessions and tokens (a changed password ends sessions; setup
 * only once; throttled logins).
 *
 * The role of a principal is read from the user row on every request, so a
 * demotion or deletion applies at once to open sessions and to the user's
 * API tokens (a token carries its creator's role).
 */
import type { IncomingMessage } from "node:http";
import type { UserRole, UsersRepo, SessionRow } from "../../store/users.js";
import { SESSION_COOKIE, type SessionInfo } from "../api.js";
import { burnVerification, hashPassword, verifyPassword } from "./password.js";
import { LoginThrottle } from "./throttle.js";
import { API_TOKEN_PREFIX, newApiToken, newSecretToken, newTokenId, parseCookies, sha256Hex } from "./tokens.js";

export interface Principal {
  username: string;
  role: UserRole;
  via: "session" | "token";
  /** Cookie sessions: the session (its CSRF token is checked on state changes). */
  session?: SessionRow;
  /** Token calls: the token id. */
  tokenId?: string;
}

export type LoginResult =
  | { ok: true; token: string; session: SessionRow; role: UserRole }
  | { ok: false; status: 401 | 429; retryAfterMs?: number };

/** Last-used timestamps of API tokens are written at most this often. */
const TOKEN_TOUCH_MS = 60_000;

export class AuthService {
  readonly throttle: LoginThrottle;

  constructor(
    private readonly users: UsersRepo,
    /** Session lifetime, read per login (follows config reloads). */
    private readonly ttlMs: () => number,
    private readonly now: () => number = Date.now,
  ) {
    this.throttle = new LoginThrottle(now);
  }

  needsSetup(): boolean {
    return this.users.count() === 0;
  }

  /** The caller, from `Authorization: Bearer cpt_...` or the session cookie; undefined when neither is valid. */
  authenticate(req: IncomingMessage): Principal | undefined {
    const authz = req.headers.authorization;
    if (typeof authz === "string" && /^bearer\s/i.test(authz)) {
      // An Authorization header decides alone: a bad token is not rescued by a cookie.
      const token = authz.slice(7).trim();
      if (!token.startsWith(API_TOKEN_PREFIX)) return undefined;
      const row = this.users.tokenByHash(sha256Hex(token));
      if (!row) return undefined;
      const user = this.users.get(row.username);
      if (!user) return undefined;
      const now = this.now();
      if (row.lastUsedAt === null || now - row.lastUsedAt >= TOKEN_TOUCH_MS) this.users.touchToken(row.id, now);
      return { username: user.username, role: user.role, via: "token", tokenId: row.id };
    }
    const cookie = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!cookie) return undefined;
    const session = this.users.session(sha256Hex(cookie));
    if (!session) return undefined;
    const user = this.users.get(session.username);
    if (!user) return undefined;
    return { username: user.username, role: user.role, via: "session", session };
  }

  /** Checks a password for a login, with per-address throttling. */
  async login(username: string, password: string, ip: string): Promise<LoginResult> {
    const wait = this.throttle.retryAfter(ip);
    if (wait > 0) return { ok: false, status: 429, retryAfterMs: wait };
    const user = this.users.get(username);
    let ok = false;
    if (user) ok = await verifyPassword(password, user.passwordHash);
    else await burnVerification(password);
    if (!ok || !user) {
      this.throttle.failure(ip);
      return { ok: false, status: 401 };
    }
    this.throttle.success(ip);
    const { token, session } = this.startSession(user.username);
    return { ok: true, token, session, role: user.role };
  }

  /** A new session for `username`: the cookie value (returned once) and its row. */
  startSession(username: string): { token: string; session: SessionRow } {
    const token = newSecretToken();
    this.users.deleteExpiredSessions();
    const session = this.users.createSession(sha256Hex(token), username, newSecretToken(), this.now() + this.ttlMs());
    return { token, session };
  }

  endSession(p: Principal): void {
    if (p.session) this.users.deleteSession(p.session.tokenHash);
  }

  /** First-run: creates the root admin, only while no user exists. */
  async setup(username: string, password: string): Promise<boolean> {
    const hash = await hashPassword(password);
    return this.users.createFirstAdmin(username, hash);
  }

  /** Sets a user's password and ends all of their sessions. */
  async setPassword(username: string, password: string): Promise<boolean> {
    return this.users.setPassword(username, await hashPassword(password));
  }

  async checkPassword(username: string, password: string): Promise<boolean> {
    const u = this.users.get(username);
    return u !== undefined && (await verifyPassword(password, u.passwordHash));
  }

  async createUser(username: string, role: UserRole, password: string): Promise<void> {
    this.users.create(username, role, await hashPassword(password));
  }

  /** A new API token for `username`: the value (shown once) and its id. */
  createToken(username: string, name: string): { id: string; token: string; createdAt: number } {
    const token = newApiToken();
    const row = this.users.createToken(newTokenId(), username, name, sha256Hex(token));
    return { id: row.id, token, createdAt: row.createdAt };
  }

  sessionInfo(p: Principal): SessionInfo {
    return { username: p.username, role: p.role, csrfToken: p.session?.csrfToken ?? "", expiresAt: p.session?.expiresAt ?? 0 };
  }
}
