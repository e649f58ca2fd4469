/**
 * Device enrollment, agent-facing (`public`): a joining device posts its
 * name and WireGuard public key and gets a pending device with a one-time
 * code (the operator approves the code, see devices.ts) and a polling
 * secret — only the hash is stored, and `GET /api/enroll/:id` answers only
 * with it, so nobody else can watch an enrollment or collect its result.
 *
 * Hostile callers: names and keys are validated, pending enrollments are
 * capped, an unknown id and a wrong secret get the same 404.
 */
import { randomBytes, randomInt } from "node:crypto";
import { ENROLL_SECRET_HEADER, type EnrollCreated, type EnrollStatus } from "../api.js";
import { bodyOf, json, type Ctx, type HandlerTable } from "../context.js";
import { HttpError, requireString } from "../http.js";
import { safeEqual, sha256Hex } from "../auth/tokens.js";
import { placeholderEnv } from "../../policy/pushdown.js";
import type { WebWireGuard } from "../deps.js";

/** Unambiguous alphabet: no 0/O, 1/I/L, no U (fewer accidental words). */
export const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CODE_LENGTH = 8;
/** At most this many enrollments wait for approval at once (429 beyond). */
export const MAX_PENDING = 100;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const KEY_RE = /^[A-Za-z0-9+/]{43}=$/;

export function newEnrollCode(): string {
  let s = "";
  for (let i = 0; i < CODE_LENGTH; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s;
}

/** "k7qx-m2tp" / "K7QX M2TP" → "K7QXM2TP". */
export function normalizeCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "");
}

/** "K7QXM2TP" → "K7QX-M2TP" (how codes are shown). */
export function formatCode(code: string): string {
  return code.length === CODE_LENGTH ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}

function wireguardOf(ctx: Ctx): WebWireGuard {
  const wg = ctx.deps.wireguard;
  if (!wg) throw new HttpError(404, "WireGuard is not enabled on this gateway (no gateway { wireguard {} } block)");
  return wg;
}

export const enrollRoutes: HandlerTable = {
  "POST /api/enroll": async (ctx) => {
    const wg = wireguardOf(ctx);
    const body = await bodyOf(ctx);
    const name = requireString(body, "name", { max: 63 });
    const publicKey = requireString(body, "publicKey", { max: 64 }).trim();
    if (!NAME_RE.test(name)) throw new HttpError(400, '"name" must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
    if (!KEY_RE.test(publicKey)) throw new HttpError(400, '"publicKey" must be a WireGuard public key (32 bytes, base64)');
    if (publicKey === wg.publicKey) throw new HttpError(400, '"publicKey" is the gateway\'s own key');
    const devices = ctx.deps.store.devices;
    if (devices.byPublicKey(publicKey)) throw new HttpError(409, "a device with this public key is already enrolled");
    if (devices.pendingCount() >= MAX_PENDING) throw new HttpError(429, "too many enrollments are waiting for approval; try again later");
    const secret = randomBytes(32).toString("base64url");
    let row;
    for (let attempt = 0; ; attempt++) {
      const code = newEnrollCode();
      if (devices.byCode(code) && attempt < 5) continue;
      row = devices.add({
        id: `dev_${randomBytes(9).toString("base64url")}`,
        name,
        code,
        transport: "wireguard",
        publicKey,
        secretHash: sha256Hex(secret),
      });
      break;
    }
    ctx.deps.log.info("device enrollment requested", { id: row.id, name, code: formatCode(row.code), ip: ctx.ip });
    const out: EnrollCreated = { id: row.id, code: formatCode(row.code), secret, caFingerprint: ctx.deps.ca.fingerprint256 };
    json(ctx, out, 201);
  },

  "GET /api/enroll/:id": (ctx) => {
    const sent = ctx.req.headers[ENROLL_SECRET_HEADER];
    const row = ctx.deps.store.devices.get(ctx.params.id!);
    if (!row || typeof sent !== "string" || row.secretHash === "" || !safeEqual(sha256Hex(sent), row.secretHash)) {
      throw new HttpError(404, "no such enrollment");
    }
    let out: EnrollStatus;
    if (row.status === "pending") out = { status: "pending", code: formatCode(row.code) };
    else if (row.status === "blocked" || !ctx.deps.wireguard || row.address === "") out = { status: "blocked" };
    else {
      const wg = ctx.deps.wireguard;
      out = {
        status: "approved",
        address: row.address,
        gatewayPublicKey: wg.publicKey,
        endpoint: wg.endpoint ?? null,
        listenPort: wg.listenPort,
        gatewayAddress: wg.address,
        dns: [wg.address],
        agentUrl: `http://${wg.address}:${wg.agentPort}`,
        caPem: ctx.deps.ca.certPem,
        caFingerprint: ctx.deps.ca.fingerprint256,
        profile: row.profile,
        env: placeholderEnv(ctx.deps.policy(), row.profile),
      };
    }
    json(ctx, out);
  },
};
