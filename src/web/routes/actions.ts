/** The audit log: list with filters, one action in detail, as a fixture, as a "block requests like this" rule. */
import { VERDICTS, type ActionFilter, type ActionRow, type ActionSummary as StoredSummary, type NewAction, type SampledHeaders, type Verdict } from "../../store/actions.js";
import { blockRuleFor } from "../../policy/block-rule.js";
import { fixtureOf } from "../../policy/fixtures/export.js";
import type { ActionDetail, ActionList, ActionSummary } from "../api.js";
import { json, type Ctx, type HandlerTable } from "../context.js";
import { HttpError, intParam, toJson } from "../http.js";

const MATCH_KEYS = ["device", "profile", "endpoint", "rule", "family"] as const;

/** Query string → store filter; 400 for malformed numbers or unknown verdicts. */
export function filterOf(q: URLSearchParams): ActionFilter {
  const f: ActionFilter = {};
  for (const key of MATCH_KEYS) {
    const values = q.getAll(key);
    if (values.length > 100) throw new HttpError(400, `at most 100 values for "${key}"`);
    if (values.length > 0) f[key] = values.length === 1 ? values[0]! : values;
  }
  const verdicts = q.getAll("verdict");
  for (const v of verdicts) if (!VERDICTS.includes(v as Verdict)) throw new HttpError(400, `unknown verdict "${v}"; one of ${VERDICTS.join(", ")}`);
  if (verdicts.length > 0) f.verdict = verdicts as Verdict[];
  const text = q.get("text");
  if (text !== null && text !== "") f.text = text.slice(0, 500);
  const n = (k: string) => intParam(q, k, { min: 0 });
  const since = n("since");
  const until = n("until");
  const before = n("before");
  const after = n("after");
  const limit = intParam(q, "limit", { min: 1, max: 1000 });
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  if (before !== undefined) f.before = before;
  if (after !== undefined) f.after = after;
  if (limit !== undefined) f.limit = limit;
  return f;
}

/** A stored summary as the API shows it. */
export const apiSummary = (r: StoredSummary): ActionSummary => r as ActionSummary;

/** A live audit row (what the data plane records) as the list shape. */
export function summaryOfNew(r: NewAction & { id: number }): ActionSummary {
  return {
    id: r.id,
    time: Math.trunc(r.time),
    device: r.device ?? "",
    profile: r.profile ?? "",
    transport: r.transport ?? "",
    endpoint: r.endpoint ?? "",
    family: r.family ?? "",
    host: r.host ?? "",
    credential: r.credential ?? "",
    rule: r.rule ?? "",
    verdict: r.verdict,
    reason: r.reason ?? "",
    approvals: (r.approvals ?? []).map((a) => ({ ...a })),
    facets: r.facets ?? {},
    summary: r.summary ?? "",
    status: r.status ?? null,
    latencyMs: r.latencyMs ?? null,
    bytesIn: r.bytesIn ?? 0,
    bytesOut: r.bytesOut ?? 0,
    flags: [...(r.flags ?? [])],
  };
}

function headersOf(h: SampledHeaders | null): Record<string, string[]> | null {
  if (h === null) return null;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.map(String) : [String(v)];
  return out;
}

function bodyOf(b: string | Buffer | null): { body: string | null; binary: boolean } {
  if (b === null) return { body: null, binary: false };
  if (typeof b === "string") return { body: b, binary: false };
  return { body: Buffer.from(b).toString("base64"), binary: true };
}

export function detailOf(row: ActionRow): ActionDetail {
  const { reqHeaders, reqBody, respHeaders, respBody, ...summary } = row;
  const req = bodyOf(reqBody);
  const resp = bodyOf(respBody);
  return {
    ...apiSummary(summary),
    reqHeaders: headersOf(reqHeaders),
    reqBody: req.body,
    respHeaders: headersOf(respHeaders),
    respBody: resp.body,
    reqBodyBinary: req.binary,
    respBodyBinary: resp.binary,
  };
}

function rowOf(ctx: Ctx): ActionRow {
  const raw = ctx.params.id!;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, "action id must be a positive integer");
  const row = ctx.deps.store.actions.get(Number(raw));
  if (!row) throw new HttpError(404, "no such action");
  return row;
}

export const actionRoutes: HandlerTable = {
  "GET /api/actions": (ctx) => {
    const page = ctx.deps.store.actions.list(filterOf(ctx.query));
    json(ctx, { rows: page.rows.map(apiSummary), nextBefore: page.nextBefore } satisfies ActionList);
  },

  "GET /api/actions/:id": (ctx) => json(ctx, detailOf(rowOf(ctx))),

  "GET /api/actions/:id/fixture": (ctx) => {
    const row = rowOf(ctx);
    let fixture;
    try {
      fixture = fixtureOf(row);
    } catch (e) {
      throw new HttpError(422, (e as Error).message);
    }
    const text = `${toJson(fixture, 2)}\n`;
    ctx.res.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="clawpatrol-action-${row.id}.json"`,
      "content-length": Buffer.byteLength(text),
    });
    ctx.res.end(text);
  },

  "GET /api/actions/:id/block-rule": (ctx) => {
    const row = rowOf(ctx);
    let preview;
    try {
      preview = blockRuleFor(row, ctx.deps.policy());
    } catch (e) {
      // Rows without an endpoint or recorded facets cannot be turned into a rule.
      throw new HttpError(422, (e as Error).message);
    }
    json(ctx, preview);
  },
};
