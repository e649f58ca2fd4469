/**
 * The config: view, validate a candidate, backtest a candidate against
 * recorded actions, and apply an edit (`dashboard_config_writes = true`
 * only): the whole candidate must load and compile through the real
 * loader, its base revision must be the text on disk, the write is atomic
 * (temp file + rename, mode kept) and the gateway reloads it.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { formatPos, hasErrors, type Diagnostic } from "../../config/diagnostics.js";
import { loadPolicy, type PolicyLoadResult } from "../../config/policy.js";
import { backtestRows, initReplay } from "../../policy/backtest.js";
import type { ActionSummary } from "../../store/actions.js";
import type { ConfigApplyResult, ConfigInfo, DiagnosticInfo, ValidateResult } from "../api.js";
import { bodyOf, json, type HandlerTable } from "../context.js";
import type { WebDeps } from "../deps.js";
import { HttpError, intParam, requireString } from "../http.js";
import { overlayIO, readConfigText } from "../config-text.js";

export const DEFAULT_BACKTEST_ROWS = 1000;
export const MAX_BACKTEST_ROWS = 10_000;
const MAX_CONFIG_CHARS = 1024 * 1024;

export function configWritesEnabled(deps: WebDeps): boolean {
  return deps.policy().config.gateway?.fields.dashboard_config_writes === true;
}

export function diagnosticInfo(d: Diagnostic, fallbackFile: string): DiagnosticInfo {
  return {
    severity: d.severity,
    summary: d.summary,
    detail: d.detail ?? "",
    location: d.range ? formatPos(d.range) : fallbackFile,
    ...(d.range ? { line: d.range.start.line, column: d.range.start.col } : {}),
  };
}

/** Loads `text` as if it were the config on disk, through the real loader and compiler. */
export function loadCandidate(deps: WebDeps, text: string): PolicyLoadResult {
  const directory = readConfigText(deps.configPath).directory;
  return loadPolicy(deps.configPath, overlayIO(deps.configPath, text, directory));
}

const candidateText = (body: Record<string, unknown>): string => requireString(body, "text", { max: MAX_CONFIG_CHARS });

/** Writes `text` over `file` atomically, keeping its mode. */
function writeAtomic(file: string, text: string): void {
  const target = realpathSync(file); // edit through a symlink, not over it
  const mode = statSync(target).mode & 0o777;
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The newest `limit` rows, newest first (the store pages at 1000). */
function newestRows(deps: WebDeps, limit: number): ActionSummary[] {
  const out: ActionSummary[] = [];
  let before: number | undefined;
  while (out.length < limit) {
    const page = deps.store.actions.list({ limit: Math.min(1000, limit - out.length), ...(before !== undefined ? { before } : {}) });
    out.push(...page.rows);
    if (page.nextBefore === null) break;
    before = page.nextBefore;
  }
  return out;
}

export const configRoutes: HandlerTable = {
  "GET /api/config": (ctx) => {
    const c = readConfigText(ctx.deps.configPath);
    json(ctx, { path: ctx.deps.configPath, text: c.text, revision: c.revision, writable: configWritesEnabled(ctx.deps) && !c.directory } satisfies ConfigInfo);
  },

  "POST /api/config/validate": async (ctx) => {
    const text = candidateText(await bodyOf(ctx));
    const r = loadCandidate(ctx.deps, text);
    const diagnostics = r.diagnostics.map((d) => diagnosticInfo(d, ctx.deps.configPath));
    json(ctx, { ok: r.policy !== undefined && !hasErrors(r.diagnostics), diagnostics } satisfies ValidateResult);
  },

  "POST /api/config/backtest": async (ctx) => {
    const body = await bodyOf(ctx);
    const text = candidateText(body);
    const limitRaw = body.limit;
    if (limitRaw !== undefined && (typeof limitRaw !== "number" || !Number.isInteger(limitRaw) || limitRaw < 1 || limitRaw > MAX_BACKTEST_ROWS)) {
      throw new HttpError(400, `"limit" must be an integer 1..${MAX_BACKTEST_ROWS}`);
    }
    const limit = (limitRaw as number | undefined) ?? intParam(ctx.query, "limit", { min: 1, max: MAX_BACKTEST_ROWS }) ?? DEFAULT_BACKTEST_ROWS;
    const r = loadCandidate(ctx.deps, text);
    if (!r.policy || hasErrors(r.diagnostics)) {
      throw new HttpError(422, "the candidate config has errors", { diagnostics: r.diagnostics.map((d) => diagnosticInfo(d, ctx.deps.configPath)) });
    }
    ctx.deps.flushAudit();
    const rows = newestRows(ctx.deps, limit);
    await initReplay();
    json(ctx, backtestRows(r.policy, rows));
  },

  "PUT /api/config": async (ctx) => {
    const { deps } = ctx;
    const current = readConfigText(deps.configPath);
    if (!configWritesEnabled(deps)) throw new HttpError(403, "config writes are disabled; set dashboard_config_writes = true in the gateway block");
    if (current.directory) throw new HttpError(403, "the config is a directory; edit its files directly");
    const body = await bodyOf(ctx);
    const text = candidateText(body);
    const base = requireString(body, "baseRevision", { max: 128 });
    // From here to the rename nothing awaits: no other request interleaves.
    const now = readConfigText(deps.configPath);
    if (base !== now.revision) throw new HttpError(409, "the config changed since you loaded it; reload and reapply", { revision: now.revision });
    const r = loadCandidate(deps, text);
    const diagnostics = r.diagnostics.map((d) => diagnosticInfo(d, deps.configPath));
    if (!r.policy || hasErrors(r.diagnostics)) throw new HttpError(422, "the candidate config has errors; nothing was written", { diagnostics });
    writeAtomic(deps.configPath, text);
    const reloaded = deps.reload();
    deps.log.info("config written from the API", { by: ctx.principal?.username, reloaded });
    json(ctx, { revision: readConfigText(deps.configPath).revision, reloaded, diagnostics } satisfies ConfigApplyResult);
  },
};
