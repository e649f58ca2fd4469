/** First-run setup, login/logout, the caller's session, own password, own API tokens. */
import { SESSION_COOKIE, type ApiTokenCreated, type ApiTokenInfo, type SetupStatus } from "../api.js";
import { passwordProblem } from "../auth/password.js";
import { sessionCookie } from "../auth/tokens.js";
import type { SessionRow } from "../../store/users.js";
import { sessionTtlOf } from "../session-ttl.js";
import { bodyOf, json, who, type Ctx, type HandlerTable } from "../context.js";
import { HttpError, optionalString, requireString } from "../http.js";

export const DEFAULT_ROOT_USER = "admin";
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** 400 unless `name` is a valid username. */
export function checkUsername(name: string): string {
  if (!USERNAME.test(name)) throw new HttpError(400, "username must be 1-64 characters: letters, digits, . _ @ - (starting with a letter or digit)");
  return name;
}

/** 400 unless `password` is acceptable as a new password. */
export function checkNewPassword(password: unknown): string {
  const problem = passwordProblem(password);
  if (problem) throw new HttpError(400, problem);
  return password as string;
}

/** Set-Cookie for a new session; Max-Age is the configured TTL (the session row expires with it). */
function setSession(ctx: Ctx, token: string, _session: SessionRow): Record<string, string> {
  return { "set-cookie": sessionCookie(SESSION_COOKIE, token, sessionTtlOf(ctx.deps), ctx.secure) };
}

export const authRoutes: HandlerTable = {
  "GET /api/setup": (ctx) => json(ctx, { needsSetup: ctx.auth.needsSetup() } satisfies SetupStatus),

  "POST /api/setup": async (ctx) => {
    const body = await bodyOf(ctx);
    const username = checkUsername(optionalString(body, "username", 64) ?? DEFAULT_ROOT_USER);
    const password = checkNewPassword(body.password);
    if (!(await ctx.auth.setup(username, password))) throw new HttpError(409, "setup is already done; log in");
    ctx.deps.log.info("dashboard root user created", { username });
    const { token, session } = ctx.auth.startSession(username);
    json(ctx, { username, role: "admin", csrfToken: session.csrfToken, expiresAt: session.expiresAt }, 201, setSession(ctx, token, session));
  },

  "POST /api/login": async (ctx) => {
    const body = await bodyOf(ctx);
    const username = requireString(body, "username", { max: 256 });
    const password = requireString(body, "password", { max: 4096 });
    const r = await ctx.auth.login(username, password, ctx.ip);
    if (!r.ok) {
      if (r.status === 429) {
        const secs = Math.ceil((r.retryAfterMs ?? 1000) / 1000);
        throw new HttpError(429, `too many failed logins; retry in ${secs}s`, { retryAfterMs: r.retryAfterMs }, { "retry-after": String(secs) });
      }
      ctx.deps.log.warn("dashboard login failed", { username: username.slice(0, 64), ip: ctx.ip });
      throw new HttpError(401, "wrong username or password");
    }
    json(ctx, { username, role: r.role, csrfToken: r.session.csrfToken, expiresAt: r.session.expiresAt }, 200, setSession(ctx, r.token, r.session));
  },

  "POST /api/logout": (ctx) => {
    ctx.auth.endSession(who(ctx));
    json(ctx, { ok: true }, 200, { "set-cookie": sessionCookie(SESSION_COOKIE, "", 0, ctx.secure) });
  },

  "GET /api/session": (ctx) => json(ctx, ctx.auth.sessionInfo(who(ctx))),

  "PUT /api/account/password": async (ctx) => {
    const p = who(ctx);
    const body = await bodyOf(ctx);
    const current = requireString(body, "current", { max: 4096 });
    const password = checkNewPassword(body.password);
    if (!(await ctx.auth.checkPassword(p.username, current))) throw new HttpError(403, "current password is wrong");
    await ctx.auth.setPassword(p.username, password); // ends every session of this user
    ctx.deps.log.info("dashboard password changed", { username: p.username });
    if (p.via !== "session") {
      json(ctx, { ok: true });
      return;
    }
    // The caller's own session ended with the others; hand it a fresh one.
    const { token, session } = ctx.auth.startSession(p.username);
    json(ctx, { username: p.username, role: p.role, csrfToken: session.csrfToken, expiresAt: session.expiresAt }, 200, setSession(ctx, token, session));
  },

  "POST /api/tokens": async (ctx) => {
    const p = who(ctx);
    const body = await bodyOf(ctx);
    const name = requireString(body, "name", { max: 100 }).trim();
    if (name === "") throw new HttpError(400, '"name" must not be empty');
    if (ctx.deps.store.users.tokensOf(p.username).length >= 100) throw new HttpError(409, "too many API tokens; revoke some first");
    const t = ctx.auth.createToken(p.username, name);
    ctx.deps.log.info("API token created", { username: p.username, id: t.id, name });
    json(ctx, { id: t.id, name, token: t.token, role: p.role, createdAt: t.createdAt } satisfies ApiTokenCreated, 201);
  },

  "GET /api/tokens": (ctx) => {
    const rows = ctx.deps.store.users.tokensOf(who(ctx).username);
    json(ctx, rows.map((r): ApiTokenInfo => ({ id: r.id, name: r.name, createdAt: r.createdAt, lastUsedAt: r.lastUsedAt })));
  },

  "DELETE /api/tokens/:id": (ctx) => {
    const p = who(ctx);
    if (!ctx.deps.store.users.deleteToken(ctx.params.id!, p.username)) throw new HttpError(404, "no such token");
    json(ctx, { ok: true });
  },
};
