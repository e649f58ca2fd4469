/** Operator accounts (admin only): list, create, change role/password, delete. */
import { ROLE_RANK, type Role, type UserInfo } from "../api.js";
import { LastAdminError } from "../../store/users.js";
import { bodyOf, json, type HandlerTable } from "../context.js";
import { HttpError, requireString } from "../http.js";
import { checkNewPassword, checkUsername } from "./auth.js";

function roleOf(v: unknown): Role {
  if (typeof v !== "string" || !(v in ROLE_RANK)) throw new HttpError(400, '"role" must be "admin", "approver" or "viewer"');
  return v as Role;
}

function lastAdmin<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LastAdminError) throw new HttpError(409, "refused: that would leave no admin");
    throw e;
  }
}

export const userRoutes: HandlerTable = {
  "GET /api/users": (ctx) => {
    json(ctx, ctx.deps.store.users.list().map((u): UserInfo => ({ username: u.username, role: u.role, createdAt: u.createdAt })));
  },

  "POST /api/users": async (ctx) => {
    const body = await bodyOf(ctx);
    const username = checkUsername(requireString(body, "username", { max: 64 }));
    const role = roleOf(body.role);
    const password = checkNewPassword(body.password);
    if (ctx.deps.store.users.get(username)) throw new HttpError(409, `user "${username}" exists`);
    await ctx.auth.createUser(username, role, password);
    ctx.deps.log.info("dashboard user created", { username, role, by: ctx.principal?.username });
    const u = ctx.deps.store.users.get(username)!;
    json(ctx, { username, role: u.role, createdAt: u.createdAt } satisfies UserInfo, 201);
  },

  "PUT /api/users/:username": async (ctx) => {
    const username = ctx.params.username!;
    const body = await bodyOf(ctx);
    const users = ctx.deps.store.users;
    if (!users.get(username)) throw new HttpError(404, "no such user");
    const role = body.role === undefined ? undefined : roleOf(body.role);
    const password = body.password === undefined ? undefined : checkNewPassword(body.password);
    if (role === undefined && password === undefined) throw new HttpError(400, 'nothing to change: give "role" and/or "password"');
    if (role !== undefined) lastAdmin(() => users.setRole(username, role));
    if (password !== undefined) await ctx.auth.setPassword(username, password); // ends their sessions
    ctx.deps.log.info("dashboard user changed", { username, role, password: password !== undefined, by: ctx.principal?.username });
    const u = users.get(username)!;
    json(ctx, { username, role: u.role, createdAt: u.createdAt } satisfies UserInfo);
  },

  "DELETE /api/users/:username": (ctx) => {
    const username = ctx.params.username!;
    if (!lastAdmin(() => ctx.deps.store.users.delete(username))) throw new HttpError(404, "no such user");
    ctx.deps.log.info("dashboard user deleted", { username, by: ctx.principal?.username });
    json(ctx, { ok: true });
  },
};
