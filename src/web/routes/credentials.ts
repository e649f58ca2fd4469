/**
 * Credential status and write-only secret slots. No route returns a value:
 * status comes from SecretsRepo.status() (which never reads the value
 * column) and the environment is checked for presence only.
 */
import type { CredentialDecl } from "../../config/model.js";
import { secretEnvVar } from "../../gateway/secrets.js";
import { MIN_SECRET_LENGTH } from "../../gateway/redact.js";
import { PRIMARY_SLOT, type SlotSpec } from "../../types/credentials/http.js";
import type { CredentialStatus } from "../api.js";
import { bodyOf, json, type Ctx, type HandlerTable } from "../context.js";
import { HttpError } from "../http.js";

/** Largest secret accepted (PEM bundles fit easily). */
export const MAX_SECRET_BYTES = 64 * 1024;

export function slotsOf(c: CredentialDecl): readonly SlotSpec[] {
  const slots = c.spec.http?.slots;
  return slots && slots.length > 0 ? slots : [{ name: PRIMARY_SLOT, primary: true, required: true, doc: "The credential's secret." }];
}

function credentialOf(ctx: Ctx): { decl: CredentialDecl; slot: string } {
  const decl = ctx.deps.policy().config.credentials.find((c) => c.name === ctx.params.name);
  if (!decl) throw new HttpError(404, `no credential "${ctx.params.name}" in the config`);
  const slot = ctx.params.slot!;
  if (!slotsOf(decl).some((s) => s.name === slot)) {
    throw new HttpError(404, `credential "${decl.name}" has no slot "${slot}"; slots: ${slotsOf(decl).map((s) => s.name).join(", ")}`);
  }
  return { decl, slot };
}

export const credentialRoutes: HandlerTable = {
  "GET /api/credentials": (ctx) => {
    const policy = ctx.deps.policy();
    const env = ctx.deps.env ?? process.env;
    const stored = new Map<string, number>();
    for (const s of ctx.deps.store.secrets.status()) for (const slot of s.slots) stored.set(`${s.name}\0${slot.slot}`, slot.updatedAt);
    const out: CredentialStatus[] = policy.config.credentials.map((c) => ({
      name: c.name,
      type: c.type,
      endpoints: c.endpoints.map((e) => `${e.type}.${e.name}`),
      profiles: policy.config.profiles.filter((p) => p.entries.some((e) => e.credential.name === c.name)).map((p) => p.name),
      slots: slotsOf(c).map((s) => {
        const updatedAt = stored.get(`${c.name}\0${s.name}`);
        const inEnv = (env[secretEnvVar(c.name, s.name)] ?? "") !== "";
        const source = updatedAt !== undefined ? "store" : inEnv ? "env" : "none";
        return { slot: s.name, doc: s.doc, connected: source !== "none", source, updatedAt: updatedAt ?? null };
      }),
    }));
    json(ctx, out);
  },

  "PUT /api/credentials/:name/:slot": async (ctx) => {
    const { decl, slot } = credentialOf(ctx);
    const body = await bodyOf(ctx);
    const value = body.value;
    if (typeof value !== "string" || value === "") throw new HttpError(400, '"value" must be a non-empty string (DELETE clears a slot)');
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > MAX_SECRET_BYTES) throw new HttpError(400, `secret larger than ${MAX_SECRET_BYTES} bytes`);
    if (bytes < MIN_SECRET_LENGTH) throw new HttpError(400, `secret shorter than ${MIN_SECRET_LENGTH} bytes (too short to redact safely)`);
    ctx.deps.store.secrets.set(decl.name, slot, value);
    ctx.deps.log.info("credential secret set", { credential: decl.name, slot, by: ctx.principal?.username });
    json(ctx, { ok: true });
  },

  "DELETE /api/credentials/:name/:slot": (ctx) => {
    const { decl, slot } = credentialOf(ctx);
    const removed = ctx.deps.store.secrets.clear(decl.name, slot);
    ctx.deps.log.info("credential secret cleared", { credential: decl.name, slot, by: ctx.principal?.username });
    json(ctx, { ok: true, removed: removed > 0 });
  },
};
