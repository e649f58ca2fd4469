/**
 * The management API against a real gateway (startGateway on a temp
 * config): the route table's access rules (401 / login redirect / 403 /
 * CSRF / Origin), bearer tokens, first-run setup, approvals with the
 * decider's name, write-only secrets, config edits, login throttling.
 * Walks ROUTES so a route added without protection fails here.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../gateway/gateway.js";
import { createLogger } from "../gateway/log.js";
import { freePort } from "../testing/net.js";
import { CSRF_HEADER, PAGES, ROUTES, SESSION_COOKIE, type RouteSpec } from "./api.js";
import { revisionOf } from "./config-text.js";

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface As {
  cookie?: string;
  csrf?: string;
  bearer?: string;
  origin?: string;
  headers?: Record<string, string>;
}

let port = 0;

/** One HTTP request (node:http: fetch would hide Set-Cookie details and refuse some headers). */
function call(method: string, path: string, as: As = {}, body?: unknown, timeoutMs = 5000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string> = { ...(as.headers ?? {}) };
    if (as.cookie) headers.cookie = `${SESSION_COOKIE}=${as.cookie}`;
    if (as.csrf) headers[CSRF_HEADER] = as.csrf;
    if (as.bearer) headers.authorization = `Bearer ${as.bearer}`;
    if (as.origin) headers.origin = as.origin;
    if (payload !== undefined) {
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    const req = request({ host: "127.0.0.1", port, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Reads an SSE stream for `ms`, then hangs up; returns what arrived. */
function readEvents(path: string, as: As, ms: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (as.cookie) headers.cookie = `${SESSION_COOKIE}=${as.cookie}`;
    if (as.bearer) headers.authorization = `Bearer ${as.bearer}`;
    const req = request({ host: "127.0.0.1", port, method: "GET", path, headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      setTimeout(() => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text });
      }, ms);
    });
    req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    req.end();
  });
}

const cookieOf = (r: Res): string => {
  const set = r.headers["set-cookie"];
  const line = (Array.isArray(set) ? set : [String(set ?? "")]).find((l) => l.startsWith(`${SESSION_COOKIE}=`));
  assert.ok(line, "a session cookie was set");
  return line.slice(SESSION_COOKIE.length + 1).split(";")[0]!;
};

/** A concrete path for a route pattern. */
const PARAMS: Record<string, string> = { id: "1", name: "tok", slot: "secret", username: "nobody" };
const concrete = (pattern: string, params: Record<string, string> = PARAMS): string =>
  pattern.replace(/:([a-z]+)/g, (_m, n: string) => encodeURIComponent(params[n] ?? "x"));

const isChanging = (r: RouteSpec) => r.method !== "GET";
const bodyFor = (r: RouteSpec): unknown => (r.method === "GET" || r.method === "DELETE" ? undefined : {});

const SECRET = "sk-LEAKCHECK-7Hq2Zp9Xw4Rt6Yv1Nm3Bc5";
const PASSWORD = "correct horse battery";

function config(o: { stateDir: string; port: number; proxyPort: number; writes: boolean; extra?: string }): string {
  return `schema_version = 1
gateway {
  state_dir               = ${JSON.stringify(o.stateDir)}
  dashboard_listen        = "127.0.0.1:${o.port}"
  dashboard_session_ttl   = "2h"
  dashboard_config_writes = ${o.writes}
  proxy {
    listen  = "127.0.0.1:${o.proxyPort}"
    profile = "default"
  }
}

endpoint "https" "api" {
  hosts = ["api.example.test"]
}

credential "bearer_token" "tok" {
  endpoint = https.api
}

rule "reads" {
  endpoint  = https.api
  condition = "http.method == 'GET'"
  verdict   = "allow"
}
${o.extra ?? ""}
profile "default" {
  credentials = [bearer_token.tok]
}
`;
}

describe("management API (real gateway)", () => {
  let dir: string;
  let cfgFile: string;
  let cfg: Parameters<typeof config>[0];
  let gw: RunningGateway;
  let admin: { cookie: string; csrf: string };
  let viewer: { cookie: string; csrf: string };
  let approver: { cookie: string; csrf: string };
  let actionId = 0;

  const login = async (username: string, password = PASSWORD) => {
    const r = await call("POST", "/api/login", {}, { username, password });
    assert.equal(r.status, 200, r.text);
    return { cookie: cookieOf(r), csrf: r.json.csrfToken as string };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "clawpatrol-web-"));
    port = await freePort();
    cfgFile = join(dir, "gateway.hcl");
    cfg = { stateDir: join(dir, "state"), port, proxyPort: await freePort(), writes: true };
    writeFileSync(cfgFile, config(cfg));
    chmodSync(cfgFile, 0o640);
    gw = await startGateway({ configPath: cfgFile, watch: false, log: createLogger({ level: "error", pretty: false, write: () => {} }) });
    actionId = gw.store.actions.insert({
      time: Date.now(),
      device: "laptop",
      profile: "default",
      transport: "proxy",
      endpoint: "https.api",
      family: "http",
      host: "api.example.test",
      credential: "tok",
      rule: "reads",
      verdict: "allow",
      facets: { http: { method: "get", path: "/v1/things", query: {}, headers: {} } },
      summary: "GET /v1/things",
      status: 200,
      latencyMs: 3.5,
      reqHeaders: { authorization: "***" },
      respBody: Buffer.from([0, 1, 2, 255]),
    });
  });

  after(async () => {
    await gw?.close(500);
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the agent-facing paths and the setup probe without auth", async () => {
    const ca = await call("GET", "/ca.crt");
    assert.equal(ca.status, 200);
    assert.equal(ca.text, gw.ca.certPem);
    assert.equal(ca.headers["content-type"], "application/x-pem-file");
    const info = await call("GET", "/info");
    assert.equal(info.status, 200);
    assert.equal(info.json.ca.fingerprint_sha256, gw.ca.fingerprint256);
    assert.ok(info.text.endsWith("}\n"));
    assert.equal((await call("GET", "/healthz")).status, 200);
    const setup = await call("GET", "/api/setup");
    assert.deepEqual(setup.json, { needsSetup: true });
  });

  it("sets security headers on every response, no-store on the API", async () => {
    for (const path of ["/ca.crt", "/api/setup", "/login", "/nope"]) {
      const r = await call("GET", path);
      assert.match(String(r.headers["content-security-policy"]), /default-src 'self'/, path);
      assert.doesNotMatch(String(r.headers["content-security-policy"]), /script-src[^;]*unsafe-inline/, path);
      assert.equal(r.headers["x-frame-options"], "DENY", path);
      assert.equal(r.headers["x-content-type-options"], "nosniff", path);
      assert.equal(r.headers["referrer-policy"], "no-referrer", path);
    }
    assert.equal((await call("GET", "/api/setup")).headers["cache-control"], "no-store");
  });

  it("first-run setup creates the root admin with a session cookie, and only once", async () => {
    assert.equal((await call("POST", "/api/setup", {}, { password: "short" })).status, 400, "minimum length");
    const r = await call("POST", "/api/setup", {}, { password: PASSWORD });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.username, "admin");
    assert.equal(r.json.role, "admin");
    const set = String(r.headers["set-cookie"]);
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Path=\//);
    assert.match(set, /Max-Age=7200/, "dashboard_session_ttl = 2h");
    assert.doesNotMatch(set, /Secure/, "plain HTTP request");
    admin = { cookie: cookieOf(r), csrf: r.json.csrfToken };
    const again = await call("POST", "/api/setup", {}, { username: "mallory", password: "another password" });
    assert.equal(again.status, 409);
    assert.deepEqual((await call("GET", "/api/setup")).json, { needsSetup: false });
    assert.equal(gw.store.users.get("mallory"), undefined);
    // The stored hash is scrypt, never the password.
    assert.match(gw.store.users.get("admin")!.passwordHash, /^\$scrypt\$v=1\$ln=\d+,r=\d+,p=\d+\$/);
  });

  it("creates the other roles (admin API)", async () => {
    for (const [username, role] of [
      ["viewer-user", "viewer"],
      ["approver-user", "approver"],
    ]) {
      const r = await call("POST", "/api/users", admin, { username, password: PASSWORD, role });
      assert.equal(r.status, 201, r.text);
    }
    viewer = await login("viewer-user");
    approver = await login("approver-user");
    const secure = await call("POST", "/api/login", { headers: { "x-forwarded-proto": "https" } }, { username: "viewer-user", password: PASSWORD });
    assert.match(String(secure.headers["set-cookie"]), /; Secure/, "Secure when the request came over HTTPS");
  });

  it("every non-public API route answers 401 without auth (and with a bogus cookie or token)", async () => {
    const guarded = ROUTES.filter((r) => r.access !== "public" && r.access !== "setup");
    assert.ok(guarded.length > 30);
    for (const r of guarded) {
      for (const as of [{}, { cookie: "forged" }, { bearer: "cpt_forged" }, { bearer: "not-a-token" }] as As[]) {
        const res = await call(r.method, concrete(r.path), as, bodyFor(r));
        assert.equal(res.status, 401, `${r.method} ${r.path} ${JSON.stringify(as)}`);
        assert.equal(typeof res.json?.error, "string");
      }
    }
  });

  it("every page redirects to /login without a session; /login and /setup are public", async () => {
    for (const p of PAGES) {
      const res = await call("GET", concrete(p));
      if (p === "/login" || p === "/setup") {
        assert.equal(res.status, 200, p);
        assert.match(String(res.headers["content-type"]), /text\/html/);
      } else {
        assert.equal(res.status, 302, p);
        assert.equal(res.headers.location, "/login", p);
      }
    }
    const withSession = await call("GET", "/requests/5", admin);
    assert.equal(withSession.status, 200);
    assert.match(withSession.text, /<html/);
  });

  it("a viewer gets 403 on every state-changing route that needs approver or admin", async () => {
    const targets = ROUTES.filter((r) => isChanging(r) && (r.access === "approver" || r.access === "admin"));
    assert.ok(targets.length >= 10);
    for (const r of targets) {
      const res = await call(r.method, concrete(r.path), viewer, bodyFor(r));
      assert.equal(res.status, 403, `${r.method} ${r.path}: ${res.text}`);
    }
    // ... and an approver on every admin one.
    for (const r of targets.filter((t) => t.access === "admin")) {
      assert.equal((await call(r.method, concrete(r.path), approver, bodyFor(r))).status, 403, `${r.method} ${r.path}`);
    }
  });

  it("every state-changing cookie request without the CSRF token (or with a wrong one) is refused", async () => {
    const targets = ROUTES.filter((r) => isChanging(r) && r.access !== "public" && r.access !== "setup");
    assert.ok(targets.length >= 16);
    for (const r of targets) {
      const none = await call(r.method, concrete(r.path), { cookie: admin.cookie }, bodyFor(r));
      assert.equal(none.status, 403, `${r.method} ${r.path} without CSRF`);
      assert.match(none.json.error, /x-clawpatrol-csrf/);
      const wrong = await call(r.method, concrete(r.path), { cookie: admin.cookie, csrf: viewer.csrf }, bodyFor(r));
      assert.equal(wrong.status, 403, `${r.method} ${r.path} with another session's CSRF token`);
    }
    // Nothing was changed by the refused requests.
    assert.equal(gw.store.users.list().length, 3);
  });

  it("every state-changing request with a foreign Origin is refused, even with the CSRF token", async () => {
    for (const r of ROUTES.filter(isChanging)) {
      const res = await call(r.method, concrete(r.path), { ...admin, origin: "https://evil.example" }, bodyFor(r));
      assert.equal(res.status, 403, `${r.method} ${r.path}`);
    }
    const same = await call("POST", "/api/config/validate", { ...admin, origin: `http://127.0.0.1:${port}` }, { text: readFileSync(cfgFile, "utf8") });
    assert.equal(same.status, 200, "same-origin requests pass");
  });

  it("API tokens authenticate without CSRF, carry their creator's role, never show again", async () => {
    const created = await call("POST", "/api/tokens", admin, { name: "ci" });
    assert.equal(created.status, 201, created.text);
    const token = created.json.token as string;
    assert.match(token, /^cpt_[A-Za-z0-9_-]{40,}$/);
    const list = await call("GET", "/api/tokens", { bearer: token });
    assert.equal(list.status, 200);
    assert.equal(list.json.length, 1);
    assert.ok(!list.text.includes(token), "token values are never listed");
    const u = await call("POST", "/api/users", { bearer: token }, { username: "script-made", password: PASSWORD, role: "viewer" });
    assert.equal(u.status, 201, "no CSRF header needed with a bearer token");
    const vt = (await call("POST", "/api/tokens", viewer, { name: "ro" })).json.token as string;
    assert.equal((await call("GET", "/api/state", { bearer: vt })).status, 200);
    assert.equal((await call("DELETE", "/api/users/script-made", { bearer: vt })).status, 403, "a viewer's token is a viewer");
    const id = created.json.id as string;
    assert.equal((await call("DELETE", `/api/tokens/${id}`, { bearer: vt })).status, 404, "not the viewer's token");
    assert.equal((await call("DELETE", `/api/tokens/${id}`, admin)).status, 200);
    assert.equal((await call("GET", "/api/state", { bearer: token })).status, 401, "revoked");
    assert.equal((await call("DELETE", "/api/users/script-made", admin)).status, 200);
  });

  it("an approver decides a pending approval and the decision records the username", async () => {
    const ctl = new AbortController();
    const outcome = gw.approvals.run(
      { endpoint: "https.api", rule: "writes", summary: "POST /v1/refunds", device: "laptop" },
      [{ name: "dashboard", kind: "human", timeoutMs: 10_000, onTimeout: "deny", requireApprovers: 1, failMode: "closed" }],
      ctl.signal,
    );
    const pending = await call("GET", "/api/approvals", viewer);
    assert.equal(pending.status, 200);
    assert.equal(pending.json.length, 1);
    const id = pending.json[0].id as string;
    assert.equal(pending.json[0].summary, "POST /v1/refunds");
    assert.equal((await call("POST", `/api/approvals/${id}`, viewer, { verdict: "allow" })).status, 403);
    assert.equal((await call("POST", `/api/approvals/${id}`, approver, { verdict: "maybe" })).status, 400);
    const ok = await call("POST", `/api/approvals/${id}`, approver, { verdict: "allow", reason: "looks fine" });
    assert.equal(ok.status, 200, ok.text);
    const o = await outcome;
    assert.equal(o.verdict, "allow");
    assert.equal(o.decisions[0]!.by, "approver-user");
    assert.equal((await call("POST", `/api/approvals/${id}`, approver, { verdict: "deny" })).status, 404, "no longer pending");
  });

  it("answers clear errors for bad JSON, wrong content type, oversized bodies and bad numbers", async () => {
    const bad = await call("POST", "/api/config/validate", admin, "{not json");
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid JSON/);
    const form = await call("POST", "/api/config/validate", { ...admin, headers: { "content-type": "application/x-www-form-urlencoded" } }, "text=x");
    assert.equal(form.status, 415);
    const big = await call("POST", "/api/config/validate", admin, JSON.stringify({ text: "x".repeat(3 * 1024 * 1024) }));
    assert.equal(big.status, 413);
    assert.equal((await call("GET", "/api/actions?limit=abc", admin)).status, 400);
    assert.equal((await call("GET", "/api/actions?verdict=maybe", admin)).status, 400);
    assert.equal((await call("GET", "/api/actions/xyz", admin)).status, 400);
    assert.equal((await call("GET", "/api/actions/999999", admin)).status, 404);
    assert.equal((await call("GET", "/api/nope", admin)).status, 404);
    assert.equal((await call("PATCH", "/api/state", admin)).status, 405);
  });

  it("lists, details, exports and previews actions", async () => {
    const list = await call("GET", "/api/actions?endpoint=https.api&verdict=allow&limit=10", viewer);
    assert.equal(list.status, 200);
    assert.equal(list.json.rows[0].id, actionId);
    const detail = await call("GET", `/api/actions/${actionId}`, viewer);
    assert.equal(detail.json.respBodyBinary, true);
    assert.equal(detail.json.respBody, Buffer.from([0, 1, 2, 255]).toString("base64"));
    assert.deepEqual(detail.json.reqHeaders, { authorization: ["***"] });
    const fx = await call("GET", `/api/actions/${actionId}/fixture`, viewer);
    assert.equal(fx.status, 200, fx.text);
    assert.match(String(fx.headers["content-disposition"]), /^attachment; filename="clawpatrol-action-\d+\.json"$/);
    const rule = await call("GET", `/api/actions/${actionId}/block-rule`, viewer);
    assert.equal(rule.status, 200, rule.text);
    assert.match(rule.json.hcl, /verdict\s+= "deny"/);
    const rules = await call("GET", "/api/rules", viewer);
    const reads = rules.json.find((r: { name: string }) => r.name === "reads");
    assert.equal(reads.hits, 1);
    assert.match(reads.location, /gateway\.hcl:\d+:\d+$/);
    const analytics = await call("GET", "/api/analytics", viewer);
    assert.equal(analytics.status, 200);
    assert.equal(analytics.json.totals.requests, 1);
    assert.equal(analytics.json.byEndpoint[0].p50, 3.5);
  });

  it("a pasted secret never appears in any API response afterwards", async () => {
    const put = await call("PUT", "/api/credentials/tok/secret", admin, { value: SECRET });
    assert.equal(put.status, 200, put.text);
    assert.equal((await call("PUT", "/api/credentials/nope/secret", admin, { value: SECRET })).status, 404);
    assert.equal((await call("PUT", "/api/credentials/tok/other", admin, { value: SECRET })).status, 404);
    const creds = await call("GET", "/api/credentials", viewer);
    const slot = creds.json.find((c: { name: string }) => c.name === "tok").slots[0];
    assert.deepEqual({ slot: slot.slot, connected: slot.connected, source: slot.source }, { slot: "secret", connected: true, source: "store" });
    const forms = [SECRET, Buffer.from(SECRET).toString("base64"), Buffer.from(SECRET).toString("base64url"), encodeURIComponent(SECRET)];
    const seen: string[] = [];
    const params = { ...PARAMS, id: String(actionId) };
    for (const r of ROUTES.filter((x) => x.method === "GET" && x.path !== "/api/events")) {
      for (const as of [admin, { bearer: undefined }] as As[]) {
        const res = await call("GET", concrete(r.path, params), as);
        seen.push(`${r.path}:${res.status}`);
        for (const f of forms) assert.ok(!res.text.includes(f), `${r.path} leaked the secret`);
        for (const v of Object.values(res.headers)) for (const f of forms) assert.ok(!String(v).includes(f), `${r.path} header leaked`);
      }
    }
    for (const p of PAGES) {
      const res = await call("GET", concrete(p, params), admin);
      for (const f of forms) assert.ok(!res.text.includes(f), `page ${p} leaked the secret`);
    }
    const events = await readEvents("/api/events?after=0", admin, 300);
    assert.equal(events.status, 200);
    assert.match(events.text, new RegExp(`id: ${actionId}\\nevent: action\\n`), "the snapshot replays stored rows");
    for (const f of forms) assert.ok(!events.text.includes(f), "events leaked the secret");
    assert.ok(seen.includes("/api/config:200") && seen.includes("/api/state:200") && seen.includes("/api/credentials:200"));
    assert.equal(gw.store.secrets.get("tok", "secret"), SECRET, "the value is stored (write-only, not lost)");
    assert.equal((await call("DELETE", "/api/credentials/tok/secret", admin)).status, 200);
    assert.equal(gw.store.secrets.get("tok", "secret"), undefined);
  });

  it("validates a candidate config with file:line:col diagnostics", async () => {
    const good = await call("POST", "/api/config/validate", viewer, { text: readFileSync(cfgFile, "utf8") });
    assert.deepEqual({ status: good.status, ok: good.json.ok }, { status: 200, ok: true });
    const broken = await call("POST", "/api/config/validate", viewer, { text: config({ ...cfg, extra: 'rule "bad" {\n  endpoint = https.nope\n  verdict = "deny"\n}\n' }) });
    assert.equal(broken.json.ok, false);
    const d = broken.json.diagnostics.find((x: { severity: string }) => x.severity === "error");
    assert.match(d.location, /gateway\.hcl:\d+:\d+$/);
    assert.equal(typeof d.line, "number");
    const bt = await call("POST", "/api/config/backtest", viewer, { text: config({ ...cfg, extra: 'rule "no-things" {\n  endpoint = https.api\n  priority = 10\n  condition = "http.path == \'/v1/things\'"\n  verdict = "deny"\n}\n' }) });
    assert.equal(bt.status, 200, bt.text);
    assert.equal(bt.json.replayed + bt.json.skipped, 1);
  });

  it("PUT /api/config: stale revision 409, invalid 422, valid writes atomically and reloads, disabled 403", async () => {
    const current = await call("GET", "/api/config", viewer);
    assert.equal(current.json.writable, true);
    assert.equal(current.json.revision, revisionOf(readFileSync(cfgFile, "utf8")));
    const edited = config({ ...cfg, extra: 'rule "api-written" {\n  endpoint = https.api\n  condition = "http.method == \'DELETE\'"\n  verdict = "deny"\n}\n' });
    const stale = await call("PUT", "/api/config", admin, { text: edited, baseRevision: "0".repeat(64) });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.revision, current.json.revision);
    const invalid = await call("PUT", "/api/config", admin, { text: `${edited}\nrule "oops" {\n`, baseRevision: current.json.revision });
    assert.equal(invalid.status, 422);
    assert.ok(invalid.json.diagnostics.some((d: { location: string }) => /gateway\.hcl:\d+:\d+$/.test(d.location)));
    assert.equal(readFileSync(cfgFile, "utf8"), config(cfg), "nothing written on 422");
    const ok = await call("PUT", "/api/config", admin, { text: edited, baseRevision: current.json.revision });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.reloaded, true);
    assert.equal(readFileSync(cfgFile, "utf8"), edited);
    assert.equal(statSync(cfgFile).mode & 0o777, 0o640, "mode kept");
    assert.ok(gw.policy().config.rules.some((r) => r.name === "api-written"), "the new policy is live");
    // Turn writes off through the API itself; the next write is refused.
    const off = config({ ...cfg, writes: false });
    assert.equal((await call("PUT", "/api/config", admin, { text: off, baseRevision: ok.json.revision })).status, 200);
    const refused = await call("PUT", "/api/config", admin, { text: edited, baseRevision: revisionOf(off) });
    assert.equal(refused.status, 403);
    assert.equal((await call("GET", "/api/config", viewer)).json.writable, false);
  });

  it("refuses to delete or demote the last admin; a changed password ends that user's sessions", async () => {
    assert.equal((await call("DELETE", "/api/users/admin", admin)).status, 409);
    assert.equal((await call("PUT", "/api/users/admin", admin, { role: "viewer" })).status, 409);
    const second = await login("viewer-user");
    assert.equal((await call("PUT", "/api/users/viewer-user", admin, { password: "a brand new password" })).status, 200);
    assert.equal((await call("GET", "/api/session", second)).status, 401, "sessions of that user ended");
    assert.equal((await call("GET", "/api/session", viewer)).status, 401);
    viewer = await login("viewer-user", "a brand new password");
    // Own password change: the other sessions end, the caller gets a fresh one.
    const other = await login("approver-user");
    const changed = await call("PUT", "/api/account/password", approver, { current: PASSWORD, password: "approver password 2" });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await call("GET", "/api/session", other)).status, 401);
    assert.equal((await call("GET", "/api/session", { cookie: cookieOf(changed) })).status, 200);
    assert.equal((await call("PUT", "/api/account/password", viewer, { current: "wrong password!", password: "whatever 12345" })).status, 403);
  });

  it("logout ends the session", async () => {
    const s = await login("admin");
    assert.equal((await call("POST", "/api/logout", s)).status, 200);
    assert.equal((await call("GET", "/api/session", s)).status, 401);
  });

  it("throttles repeated failed logins from one address", async () => {
    for (let i = 0; i < 5; i++) assert.equal((await call("POST", "/api/login", {}, { username: "admin", password: `wrong-${i}-password` })).status, 401);
    const limited = await call("POST", "/api/login", {}, { username: "admin", password: PASSWORD });
    assert.equal(limited.status, 429, "even the right password waits");
    assert.ok(Number(limited.headers["retry-after"]) >= 1);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await call("POST", "/api/login", {}, { username: "admin", password: PASSWORD })).status, 200);
  });
});
