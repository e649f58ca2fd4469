/**
 * Rebuilding a policy {@link Action} from an audit row, for the policy
 * backtest (./backtest.ts) and anything else that re-decides history.
 *
 * The audit keeps the facets rules saw, minus what it must not or cannot
 * keep. Replay semantics — honest first, fail-closed second:
 *
 * - **Skipped** (`{ skip }`): rows without facets for their family (the
 *   gateway refused the request before any policy ran: bad request head,
 *   client gone before the decision, no endpoint claimed it) and rows whose
 *   facets are malformed. There is nothing to decide.
 * - **Lost facets** (`lost`): fields the audit did not keep although the
 *   request had them — `http.body` / `http.body_json` when the request had a
 *   body (`bytesIn > 0`; bodies live in the sampled, redacted, size-capped
 *   `req_body`, never in facets), `http.headers` when a header value was
 *   masked (`***`: auth and injected headers), `ssh.stdin` when stdin was
 *   buffered (`stdin_bytes > 0`), `sql.statement` when the stored statement
 *   is only a sample (its byte length is below `bytesIn`, the statement's
 *   full size). Lost fields are listed in `action.unknown` so a plain
 *   `decide()` on the rebuilt action fails closed on any rule reading them —
 *   with cause `unparseable`, deliberately not `truncated`: a `truncated`
 *   unknown anywhere turns every approval into a deny (decide.ts), which
 *   would invent changes for requests the gateway did inspect in full. The
 *   backtest uses `lost` to tell such artefacts from real verdicts and
 *   counts them as skipped rather than reporting a change it cannot know.
 * - **Unknowns the request itself had** (`facets.unknown`: a body that
 *   overflowed the inspection buffer, an unparseable path or statement) are
 *   restored with their original cause: the live decision failed closed on
 *   them and so does the replay.
 * - **SQL**: a complete statement is analysed again with the current
 *   analyzer ({@link initReplay} must have been awaited), so verbs, tables,
 *   functions and `op.class` are what this build would derive; a sampled
 *   statement (or one the gateway already marked truncated) keeps the stored
 *   derived facets and unknowns.
 * - **Context**: device and profile as recorded; the credential by name when
 *   the row has one (the gateway records it only for allowed requests),
 *   otherwise the protocol's dispatch hints that were kept (`sql.database`,
 *   `ssh.user`); HTTP placeholders lived in masked headers and are gone.
 */
import type { Action, DispatchHints, HttpFacets, K8sFacets, OpClass, SqlFacets, UnknownCause, UnknownFacet } from "./action.js";
import { FAMILIES } from "./action.js";
import { sshFacets } from "./facets/ssh.js";
import { statementViews } from "./query.js";
import { analyzeSql, initSqlAnalyzer } from "./sql/analyze.js";
import type { ActionSummary } from "../store/actions.js";

/** The mask the audit writes over sensitive header values. */
export const MASKED_VALUE = "***";

/** A rebuilt action and the facet fields the audit did not keep (also in `action.unknown`). */
export type Replay = { action: Action; lost: readonly string[] } | { skip: string };

/** Loads the SQL analyzer; await once before {@link actionFromRow} meets SQL rows. */
export function initReplay(): Promise<void> {
  return initSqlAnalyzer();
}

const OP_CLASSES: readonly OpClass[] = ["read", "write", "delete", "admin", "exec"];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const strList = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === "string") ? [...(v as string[])] : undefined);

function listMap(v: unknown): Record<string, string[]> | undefined {
  if (v === undefined) return {};
  if (!isObj(v)) return undefined;
  const out = Object.create(null) as Record<string, string[]>;
  for (const [k, x] of Object.entries(v)) {
    const l = typeof x === "string" ? [x] : strList(x);
    if (!l) return undefined;
    out[k] = l;
  }
  return out;
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined) return {};
  if (!isObj(v)) return undefined;
  const out = Object.create(null) as Record<string, string>;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string") return undefined;
    out[k] = x;
  }
  return out;
}

/** The unknowns recorded with the row (`facets.unknown`), validated. */
function storedUnknowns(facets: Obj): UnknownFacet[] {
  const raw = facets["unknown"];
  if (!Array.isArray(raw)) return [];
  const out: UnknownFacet[] = [];
  for (const u of raw) {
    if (!isObj(u) || typeof u["field"] !== "string") continue;
    const cause: UnknownCause = u["cause"] === "truncated" ? "truncated" : "unparseable";
    out.push({ field: u["field"], cause });
  }
  return out;
}

/** Rebuilds the action a row recorded, or says why it cannot be replayed. */
export function actionFromRow(row: ActionSummary): Replay {
  const family = row.family;
  if (!(FAMILIES as readonly string[]).includes(family)) return { skip: `unknown family ${JSON.stringify(family)}` };
  const block = row.facets[family];
  if (!isObj(block) || Object.keys(block).length === 0) {
    return { skip: "facets not recorded (the request was refused before the policy decided it)" };
  }
  const unknown = storedUnknowns(row.facets);
  const has = (field: string) => unknown.some((u) => u.field === field);
  const lost: string[] = [];
  const lose = (field: string) => {
    if (has(field)) return; // the request's own unknown wins (its cause is the live one)
    lost.push(field);
    unknown.push({ field, cause: "unparseable" });
  };
  const malformed = (what: string): Replay => ({ skip: `facets malformed: ${what}` });

  const base: { host: string; device?: string; profile?: string; credential?: string; dispatch?: DispatchHints } = { host: row.host };
  if (row.device !== "") base.device = row.device;
  if (row.profile !== "") base.profile = row.profile;
  if (row.credential !== "") base.credential = row.credential;

  let action: Action;
  switch (family) {
    case "http": {
      const method = str(block["method"]);
      const path = str(block["path"]);
      const query = listMap(block["query"]);
      const headers = listMap(block["headers"]);
      if (method === undefined || path === undefined || !query || !headers) return malformed("http needs method, path, query, headers");
      const http: HttpFacets = { method: method.toLowerCase(), path, query, headers, body: "", body_json: {} };
      if (row.bytesIn > 0) {
        lose("http.body");
        lose("http.body_json");
      }
      if (Object.values(headers).some((vs) => vs.includes(MASKED_VALUE))) lose("http.headers");
      action = { ...base, family: "http", http };
      break;
    }
    case "k8s": {
      const params = stringMap(block["params"]);
      const query = listMap(block["query"]);
      const verb = str(block["verb"]);
      if (verb === undefined || !params || !query) return malformed("k8s needs verb, params, query");
      const k8s: K8sFacets = {
        verb: verb.toLowerCase(),
        resource: str(block["resource"]) ?? "",
        namespace: str(block["namespace"]) ?? "",
        name: str(block["name"]) ?? "",
        group: str(block["group"]) ?? "",
        params,
        query,
      };
      action = { ...base, family: "k8s", k8s };
      break;
    }
    case "ssh": {
      const verb = str(block["verb"]);
      if (verb === undefined) return malformed("ssh needs verb");
      const port = block["forward_port"];
      const ssh = sshFacets({
        verb,
        command: str(block["command"]) ?? "",
        subsystem: str(block["subsystem"]) ?? "",
        forward_host: str(block["forward_host"]) ?? "",
        forward_port: typeof port === "number" ? port : 0,
        user: str(block["user"]) ?? "",
      });
      const stdinBytes = block["stdin_bytes"];
      if (typeof stdinBytes === "number" && stdinBytes > 0) lose("ssh.stdin");
      if (base.credential === undefined && ssh.user !== "") base.dispatch = { user: ssh.user };
      action = { ...base, family: "ssh", ssh };
      break;
    }
    case "sql": {
      const statement = str(block["statement"]);
      if (statement === undefined) return malformed("sql needs statement");
      const database = str(block["database"]) ?? "";
      if (base.credential === undefined && database !== "") base.dispatch = { database };
      const complete = !has("sql.statement") && Buffer.byteLength(statement) >= row.bytesIn;
      let views: ReturnType<typeof statementViews> = [];
      if (complete) {
        const analysis = analyzeSql(statement);
        if (!analysis.ok && /not initiali[sz]ed/.test(analysis.error)) {
          throw new Error("actionFromRow: the SQL analyzer is not loaded (await initReplay() first)");
        }
        views = statementViews(statement, analysis);
      }
      // One stored row is one statement; anything else falls back to the stored facets.
      const view = views.length === 1 ? views[0] : undefined;
      let sql: SqlFacets;
      let opClass: OpClass | undefined;
      if (view) {
        sql = { verb: view.verb, verbs: view.verbs, tables: view.tables, functions: view.functions, statement, database };
        opClass = view.opClass;
        // Fresh analysis replaces what the stored analysis knew or did not know.
        for (let i = unknown.length - 1; i >= 0; i--) if (unknown[i]!.field.startsWith("sql.") || unknown[i]!.field === "op.class") unknown.splice(i, 1);
        unknown.push(...(view.unknown ?? []));
      } else {
        const verbs = strList(block["verbs"]);
        const tables = strList(block["tables"]);
        const functions = strList(block["functions"]);
        const verb = str(block["verb"]);
        if (verb === undefined || !verbs || !tables || !functions) return malformed("sql needs verb, verbs, tables, functions");
        sql = { verb, verbs, tables, functions, statement, database };
        const op = isObj(row.facets["op"]) ? row.facets["op"]["class"] : undefined;
        if (typeof op === "string" && (OP_CLASSES as readonly string[]).includes(op)) opClass = op as OpClass;
        if (!complete) lose("sql.statement");
      }
      action = { ...base, family: "sql", sql };
      if (opClass !== undefined) action.opClass = opClass;
      break;
    }
    default:
      return { skip: `unknown family ${JSON.stringify(family)}` };
  }
  if (unknown.length > 0) action.unknown = unknown;
  return { action, lost };
}
