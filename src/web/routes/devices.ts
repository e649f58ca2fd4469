/**
 * Devices: enrolled ones (the `devices` table: pending, active, blocked)
 * and those only seen in the audit log over the last {@link SEEN_WINDOW_MS}
 * (local transports), as status "seen". Approve, block and delete act on
 * enrolled devices only.
 */
import type { DeviceInfo } from "../api.js";
import { bodyOf, json, type Ctx, type HandlerTable } from "../context.js";
import { HttpError, requireString } from "../http.js";
import { normalizeCode } from "./enroll.js";

export const SEEN_WINDOW_MS = 30 * 24 * 3600_000;

function enrolled(ctx: Ctx): string {
  const id = ctx.params.id!;
  if (!ctx.deps.store.devices.get(id)) throw new HttpError(404, "no such enrolled device");
  return id;
}

export const deviceRoutes: HandlerTable = {
  "GET /api/devices": (ctx) => {
    const code = ctx.query.get("code");
    const byCode = code !== null ? ctx.deps.store.devices.byCode(normalizeCode(code)) : undefined;
    const rows = code !== null ? (byCode ? [byCode] : []) : ctx.deps.store.devices.list();
    const out: DeviceInfo[] = rows.map((d) => ({
      id: d.id,
      name: d.name,
      profile: d.profile,
      status: d.status,
      transport: d.transport,
      lastSeen: d.lastSeen,
      ...(d.status === "pending" ? { code: d.code } : {}),
      ...(d.address !== "" ? { address: d.address } : {}),
      ...(d.publicKey !== "" ? { publicKey: d.publicKey } : {}),
    }));
    if (code !== null) return json(ctx, out);
    const known = new Set(rows.flatMap((d) => [d.id, d.name]));
    for (const s of ctx.deps.store.stats.seenDevices(ctx.now() - SEEN_WINDOW_MS)) {
      if (known.has(s.device)) continue;
      out.push({ id: s.device, name: s.device, profile: s.profile, status: "seen", transport: s.transport, lastSeen: s.lastSeen });
    }
    json(ctx, out);
  },

  "POST /api/devices/:id/approve": async (ctx) => {
    const id = enrolled(ctx);
    const profile = requireString(await bodyOf(ctx), "profile", { max: 200 });
    if (!ctx.deps.policy().profiles.has(profile)) throw new HttpError(400, `no profile "${profile}" in the config`);
    const wg = ctx.deps.wireguard;
    const row = ctx.deps.store.devices.get(id)!;
    if (wg && row.publicKey !== "") {
      // A WireGuard peer: its own /32 from the subnet (kept across re-approvals), atomically.
      let address: string | undefined;
      try {
        address = ctx.deps.store.devices.activate(id, profile, (used) => wg.allocate(used));
      } catch (e) {
        throw new HttpError(409, (e as Error).message);
      }
      ctx.deps.log.info("device approved", { id, name: row.name, profile, address, by: ctx.principal?.username });
      return json(ctx, { ok: true, address });
    }
    ctx.deps.store.devices.approve(id, profile);
    ctx.deps.log.info("device approved", { id, profile, by: ctx.principal?.username });
    json(ctx, { ok: true });
  },

  "POST /api/devices/:id/block": (ctx) => {
    const id = enrolled(ctx);
    ctx.deps.store.devices.setStatus(id, "blocked");
    ctx.deps.log.info("device blocked", { id, by: ctx.principal?.username });
    json(ctx, { ok: true });
  },

  "DELETE /api/devices/:id": (ctx) => {
    const id = enrolled(ctx);
    ctx.deps.store.devices.delete(id);
    ctx.deps.log.info("device deleted", { id, by: ctx.principal?.username });
    json(ctx, { ok: true });
  },
};
