/**
 * Dashboard benchmark (issue #6 acceptance): with 100,000 actions in the
 * database the action list answers in ≤ 50 ms p50, and the live view keeps
 * up with 500 events/s without dropping.
 *
 * (a) Action list: a fresh store (`openStore` on a temp dir) filled with
 *     100,000 realistic rows (http / k8s / sql / ssh mixed, several devices,
 *     endpoints, rules and verdicts, a few days of timestamps), then
 *     `actions.list()` timed — first page, filtered pages (endpoint,
 *     verdict, text search, combined) and a deep page (`before`) — p50/p99
 *     against the 50 ms target.
 * (b) Live feed: the assembled gateway (`startGateway`) with a `proxy`
 *     listener and the web listener; the bench sets the first password
 *     (`POST /api/setup`, whose session cookie it keeps) and opens
 *     `GET /api/events`. Load goes through the real audit path: HTTPS
 *     requests over CONNECT + TLS (trusting the gateway CA) that a rule
 *     denies — so every request is intercepted, decided, answered 403 by the
 *     gateway and audited, no upstream needed — at 500 requests/s for 10 s.
 *     Counted: audited rows vs SSE `action` events received (dropped = the
 *     difference; any `overflow` event is reported), and latency from the
 *     request's arrival (`time` of the row) to receipt, p50/p99.
 */
import { freePort } from "../src/testing/net.js";
import { percentile } from "./stats.js";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openStore } from "../src/store/db.js";
import type { ActionFilter, NewAction, Verdict } from "../src/store/actions.js";

const ROWS = 100_000;
const BATCH = 5_000;
const LIST_TARGET_MS = 50;
const RATE = 500;
const SECONDS = 10;

const ms = (v: number) => `${v.toFixed(2)} ms`;

// ---------------------------------------------------------------------------
// (a) the action list

const DEVICES = ["laptop-ana", "laptop-bo", "ci-runner-1", "ci-runner-2", "build-box", "agent-7"];
const REPOS = ["acme/widget", "acme/api", "acme/infra", "acme/docs"];

/** A deterministic, varied, realistic row. */
function realisticAction(i: number, time: number): NewAction {
  const device = DEVICES[i % DEVICES.length]!;
  const profile = i % 5 === 0 ? "ops" : "default";
  const kind = i % 10;
  const base = { time, device, profile, transport: i % 3 === 0 ? "wireguard" : "proxy", status: 200, latencyMs: 3 + (i % 50), bytesOut: 800 + (i % 3000), flags: [] as string[] };
  const verdict: Verdict = i % 17 === 0 ? "deny" : i % 61 === 0 ? "approve" : "allow";
  if (kind < 5) {
    const repo = REPOS[i % REPOS.length]!;
    const method = i % 7 === 0 ? "POST" : i % 23 === 0 ? "DELETE" : "GET";
    const path = method === "POST" ? `/repos/${repo}/issues` : `/repos/${repo}/issues/${i % 5000}`;
    return {
      ...base,
      endpoint: "https.github",
      family: "http",
      host: "api.github.com",
      credential: verdict === "deny" ? "" : "gh",
      rule: method === "GET" ? "gh-reads" : method === "DELETE" ? "gh-deletes" : "gh-issue-writes",
      verdict: method === "DELETE" ? "deny" : verdict,
      reason: method === "DELETE" ? "no deletes" : "",
      approvals: method === "POST" ? [{ approver: "dashboard", decision: "allow", by: "root", at: time + 2000 }] : [],
      facets: { http: { method: method.toLowerCase(), path, query: { per_page: ["50"] }, headers: { Authorization: ["***"], "User-Agent": ["agent/1.0"], Accept: ["application/json"] } } },
      summary: `${method} ${path}`,
      bytesIn: method === "POST" ? 240 : 0,
      reqHeaders: { Authorization: "***", "User-Agent": "agent/1.0" },
      reqBody: method === "POST" ? `{"title":"bug ${i}","body":"steps to reproduce ..."}` : null,
      respHeaders: { "Content-Type": "application/json" },
      respBody: `{"id":${i},"state":"open","title":"bug ${i}"}`,
    };
  }
  if (kind < 7) {
    const stmt = i % 29 === 0 ? `DELETE FROM sessions WHERE expires < now() - interval '${i % 30} days'` : `SELECT id, email FROM users WHERE id = ${i}`;
    return {
      ...base,
      endpoint: "postgres.main",
      family: "sql",
      host: "db.internal:5432",
      credential: "pg",
      rule: "",
      verdict,
      reason: "",
      approvals: [],
      facets: { sql: { verb: stmt.startsWith("DELETE") ? "delete" : "select", verbs: ["select"], tables: [stmt.startsWith("DELETE") ? "sessions" : "users"], functions: [], statement: stmt, database: "app" }, op: { class: "read" }, result: { tag: "SELECT 1", rows: 1 } },
      summary: stmt,
      status: null,
      bytesIn: stmt.length,
    };
  }
  if (kind < 9) {
    const ns = ["prod", "staging", "dev"][i % 3]!;
    return {
      ...base,
      endpoint: "kubernetes.prod",
      family: "k8s",
      host: "10.0.0.1:6443",
      credential: "kube",
      rule: "k8s-reads",
      verdict,
      reason: "",
      approvals: [],
      facets: { k8s: { verb: "list", resource: "pods", namespace: ns, name: "", group: "", params: {}, query: {} } },
      summary: `list pods -n ${ns}`,
      bytesIn: 0,
    };
  }
  const cmd = ["make test", "uname -a", "df -h", `tail -n 100 /var/log/app-${i % 9}.log`][i % 4]!;
  return {
    ...base,
    endpoint: "ssh.build",
    family: "ssh",
    host: "build.example.com:22",
    credential: "build-key",
    rule: "ssh-exec",
    verdict,
    reason: "",
    approvals: [],
    facets: { ssh: { verb: "exec", command: cmd, subsystem: "", forward_host: "", forward_port: 0, user: "ubuntu", stdin_bytes: 0 } },
    summary: cmd,
    status: 0,
    bytesIn: 0,
  };
}

async function listBench(detail: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "clawpatrol-bench-dash-"));
  const store = openStore(dir);
  try {
    const t0 = performance.now();
    const start = Date.now() - 3 * 86_400_000;
    for (let i = 0; i < ROWS; i += BATCH) {
      const rows: NewAction[] = [];
      for (let j = i; j < Math.min(ROWS, i + BATCH); j++) rows.push(realisticAction(j, start + j * 2_500));
      store.actions.insertMany(rows);
    }
    const fill = performance.now() - t0;
    const firstId = store.actions.list({ limit: 1 }).rows[0]!.id;
    console.log(`\ndashboard: action list over ${ROWS.toLocaleString("en")} actions (filled in ${(fill / 1000).toFixed(1)} s, ${Math.round(ROWS / (fill / 1000)).toLocaleString("en")} rows/s in batches of ${BATCH})`);
    const cases: [string, ActionFilter][] = [
      ["first page (100)", { limit: 100 }],
      ["endpoint = postgres.main", { endpoint: "postgres.main", limit: 100 }],
      ["verdict = deny", { verdict: "deny", limit: 100 }],
      ["verdict = approve (rare)", { verdict: "approve", limit: 100 }],
      ['text "issues" (common)', { text: "issues", limit: 100 }],
      ['text "app-7.log" (rare)', { text: "app-7.log", limit: 100 }],
      ['text "no-such-thing" (no hit: full scan)', { text: "no-such-thing", limit: 100 }],
      ["endpoint + verdict + device", { endpoint: "https.github", verdict: "deny", device: "agent-7", limit: 100 }],
      ["deep page (before = id 1,000)", { before: firstId - ROWS + 1_000, limit: 100 }],
      ["deep page, filtered (endpoint, before)", { endpoint: "ssh.build", before: firstId - ROWS + 5_000, limit: 100 }],
      ["time window (last hour)", { since: start + ROWS * 2_500 - 3_600_000, limit: 100 }],
    ];
    const N = 200;
    let worst = 0;
    for (const [name, filter] of cases) {
      for (let k = 0; k < 10; k++) store.actions.list(filter); // warm the statement cache and pages
      const xs: number[] = [];
      let rows = 0;
      for (let k = 0; k < N; k++) {
        const t = performance.now();
        rows = store.actions.list(filter).rows.length;
        xs.push(performance.now() - t);
      }
      const p50 = percentile(xs, 50);
      worst = Math.max(worst, p50);
      const verdict = p50 <= LIST_TARGET_MS ? "ok" : "OVER";
      console.log(`  ${name.padEnd(42)} p50 ${ms(p50).padStart(10)}  p99 ${ms(percentile(xs, 99)).padStart(10)}  ${String(rows).padStart(3)} rows  ${verdict}${detail ? `  (n=${N}, max ${ms(Math.max(...xs))})` : ""}`);
    }
    console.log(`  worst p50 ${ms(worst)} vs target ≤ ${LIST_TARGET_MS} ms: ${worst <= LIST_TARGET_MS ? "met" : "NOT met"}`);
    store.close();
    await apiListBench(dir, cases, detail);
  } finally {
    try {
      store.close();
    } catch {
      /* already closed */
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same list queries as an operator's browser makes them: `GET
 * /api/actions` on a gateway serving that database, with a session cookie —
 * routing, auth, the store query and JSON encoding of 100 rows included.
 */
async function apiListBench(dir: string, cases: [string, ActionFilter][], detail: boolean): Promise<void> {
  const { startGateway } = await import("../src/gateway/gateway.js");
  const { createLogger } = await import("../src/gateway/log.js");
  const [proxyPort, webPort] = [await freePort(), await freePort()];
  const configPath = join(dir, "gateway.hcl");
  writeFileSync(configPath, feedConfig({ stateDir: dir, proxyPort, webPort }));
  const gw = await startGateway({ configPath, log: createLogger({ level: "error" }), watch: false });
  try {
    const setup = await fetch(`http://127.0.0.1:${webPort}/api/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "root", password: "bench-password-0123456789" }),
    });
    if (setup.status !== 201) throw new Error(`setup answered ${setup.status}`);
    const cookie = (setup.headers.get("set-cookie") ?? "").split(";")[0]!;
    console.log(`  over HTTP (GET /api/actions with a session, 100 rows as JSON):`);
    let worst = 0;
    for (const [name, filter] of cases) {
      const q = new URLSearchParams(Object.entries(filter).map(([k, v]): [string, string] => [k, String(v)]));
      const url = `http://127.0.0.1:${webPort}/api/actions?${q}`;
      const get = async () => {
        const r = await fetch(url, { headers: { cookie } });
        if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
        return ((await r.json()) as { rows: unknown[] }).rows.length;
      };
      for (let k = 0; k < 5; k++) await get();
      const xs: number[] = [];
      let rows = 0;
      for (let k = 0; k < 50; k++) {
        const t = performance.now();
        rows = await get();
        xs.push(performance.now() - t);
      }
      const p50 = percentile(xs, 50);
      worst = Math.max(worst, p50);
      console.log(`  ${name.padEnd(42)} p50 ${ms(p50).padStart(10)}  p99 ${ms(percentile(xs, 99)).padStart(10)}  ${String(rows).padStart(3)} rows  ${p50 <= LIST_TARGET_MS ? "ok" : "OVER"}${detail ? `  (n=50)` : ""}`);
    }
    console.log(`  worst p50 over HTTP ${ms(worst)} vs target ≤ ${LIST_TARGET_MS} ms: ${worst <= LIST_TARGET_MS ? "met" : "NOT met"}`);
  } finally {
    await gw.close(1000);
  }
}

// ---------------------------------------------------------------------------
// (b) the live feed

const HOST = "bench.example.test";

function feedConfig(o: { stateDir: string; proxyPort: number; webPort: number }): string {
  return `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(o.stateDir)}
  dashboard_listen = "127.0.0.1:${o.webPort}"
  resolve          = { ${JSON.stringify(HOST)} = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:${o.proxyPort}"
    profile = "bench"
    device  = "bench-client"
  }
}
endpoint "https" "api" { hosts = ["${HOST}"] }
credential "bearer_token" "bench_token" { endpoint = https.api }
rule "bench-deny" {
  endpoint  = https.api
  condition = "http.path.startsWith('/bench/')"
  verdict   = "deny"
  reason    = "benchmark"
}
profile "bench" { credentials = [bearer_token.bench_token] }
`;
}

/**
 * The load generator, in a worker thread: every request its own CONNECT +
 * TLS tunnel (a denied request closes its connection: the gateway answers
 * 403 with `Connection: close`), opened on schedule — open loop, so a slow
 * gateway does not lower the offered rate.
 */
const LOAD_WORKER = `
const { parentPort, workerData: w } = require("node:worker_threads");
const net = require("node:net");
const tls = require("node:tls");
let answered = 0, non403 = 0, failed = 0, sent = 0, done = 0;
const total = w.rate * w.seconds;
function one(n) {
  const raw = net.connect(w.proxyPort, "127.0.0.1");
  let stage = 0, head = "";
  const fin = (ok, status) => {
    if (stage === 9) return;
    stage = 9;
    if (ok) { answered++; if (status !== "403") non403++; } else failed++;
    raw.destroy();
    if (++done === total) report();
  };
  raw.once("error", () => fin(false));
  raw.once("connect", () => raw.write("CONNECT " + w.host + ":443 HTTP/1.1\\r\\nHost: " + w.host + ":443\\r\\n\\r\\n"));
  const onData = (b) => {
    head += b.toString("latin1");
    if (!head.includes("\\r\\n\\r\\n")) return;
    raw.off("data", onData);
    if (!/^HTTP\\/1\\.[01] 200/.test(head)) return fin(false);
    const s = tls.connect({ socket: raw, servername: w.host, ca: w.caPem, ALPNProtocols: ["http/1.1"] });
    let resp = "";
    s.once("error", () => fin(false));
    s.once("close", () => fin(false));
    s.once("secureConnect", () => s.write("GET /bench/" + n + " HTTP/1.1\\r\\nHost: " + w.host + "\\r\\nUser-Agent: bench\\r\\n\\r\\n"));
    s.on("data", (d) => {
      resp += d.toString("latin1");
      const m = /^HTTP\\/1\\.1 (\\d{3})/.exec(resp);
      if (m) { fin(true, m[1]); s.destroy(); }
    });
  };
  raw.on("data", onData);
}
const t0 = performance.now();
let sendSecs = 0;
const tick = setInterval(() => {
  const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * w.rate));
  while (sent < due) one(sent++);
  if (sent >= total) { clearInterval(tick); sendSecs = (performance.now() - t0) / 1000; }
}, 5);
function report() { parentPort.postMessage({ answered, non403, failed, sent, sendSecs: sendSecs || (performance.now() - t0) / 1000 }); }
setTimeout(report, (w.seconds + 8) * 1000).unref();
`;

interface LoadResult {
  answered: number;
  non403: number;
  failed: number;
  sent: number;
  sendSecs: number;
}

async function runLoad(w: { proxyPort: number; caPem: string; host: string; rate: number; seconds: number }): Promise<LoadResult> {
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker(LOAD_WORKER, { eval: true, workerData: w });
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      worker.once("message", (m: LoadResult) => resolve(m));
      worker.once("error", reject);
    });
  } finally {
    await worker.terminate();
  }
}

async function feedBench(detail: boolean): Promise<void> {
  const { startGateway } = await import("../src/gateway/gateway.js");
  const { createLogger } = await import("../src/gateway/log.js");
  const dir = mkdtempSync(join(tmpdir(), "clawpatrol-bench-feed-"));
  const [proxyPort, webPort] = [await freePort(), await freePort()];
  const configPath = join(dir, "gateway.hcl");
  writeFileSync(configPath, feedConfig({ stateDir: join(dir, "state"), proxyPort, webPort }));
  const gw = await startGateway({ configPath, log: createLogger({ level: "error" }), watch: false });
  let sse: IncomingMessage | undefined;
  try {
    // First password → session cookie.
    const setup = await fetch(`http://127.0.0.1:${webPort}/api/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "root", password: "bench-password-0123456789" }),
    });
    if (setup.status !== 201) throw new Error(`setup answered ${setup.status}: ${await setup.text()}`);
    const cookie = (setup.headers.get("set-cookie") ?? "").split(";")[0]!;

    // The live feed.
    const received: number[] = [];
    let overflow = false;
    let otherEvents = 0;
    let debugBlocks = 0;
    sse = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: webPort, path: "/api/events", headers: { cookie, accept: "text/event-stream" } }, resolve);
      req.once("error", reject);
      req.end();
    });
    if (sse.statusCode !== 200) throw new Error(`/api/events answered ${sse.statusCode}`);
    let buf = "";
    sse.setEncoding("utf8");
    sse.on("data", (chunk: string) => {
      const now = Date.now();
      buf += chunk;
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const lines = block.split("\n");
        const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
        if (event === "overflow") overflow = true;
        if (event !== "action") {
          if (event !== undefined) otherEvents++;
          continue;
        }
        const data = lines.find((l) => l.startsWith("data: "));
        const row = data ? (JSON.parse(data.slice(6)) as { time: number; summary: string }) : undefined;
        if (row?.summary.startsWith("GET /bench/")) received.push(now - row.time);
        else if (debugBlocks++ < 3) console.log(`  (unexpected event: ${block.slice(0, 300)})`);
      }
    });

    // Load: RATE requests/s through the real data plane, from a worker
    // thread (the client's TLS must not share the gateway's event loop).
    const load = await runLoad({ proxyPort, caPem: gw.ca.certPem, host: HOST, rate: RATE, seconds: SECONDS });
    const { answered, non403, failed, sent } = load;
    const total = RATE * SECONDS;
    const sendSecs = load.sendSecs;
    // Let the last answers, audit batches and events arrive.
    const deadline = Date.now() + 3_000;
    while ((answered + failed < total || received.length < answered) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    gw.flushAudit();
    await new Promise((r) => setTimeout(r, 200));
    const audited = gw.store.actions.list({ text: "/bench/", limit: 1 }).rows[0] !== undefined ? countAudited(gw.store) : 0;
    const dropped = audited - received.length;
    console.log(`\ndashboard: live feed (/api/events) at ${RATE} requests/s for ${SECONDS} s through the gateway's audit path`);
    console.log(`  sent ${sent} in ${sendSecs.toFixed(2)} s (${Math.round(sent / sendSecs)}/s); answered ${answered} (${non403} not 403, ${failed} failed); audited ${audited}`);
    console.log(`  SSE action events received ${received.length}; dropped ${dropped}${overflow ? "; OVERFLOW event received" : ""}${detail ? `; other events ${otherEvents}` : ""}`);
    console.log(`  latency request arrival → SSE receipt: p50 ${ms(percentile(received, 50))}  p99 ${ms(percentile(received, 99))}  max ${ms(Math.max(...received))}`);
    console.log(`  target: none dropped at ${RATE}/s: ${dropped === 0 && !overflow && audited === total ? "met" : "NOT met"}`);
  } finally {
    sse?.destroy();
    await gw.close(500);
    rmSync(dir, { recursive: true, force: true });
  }
}

function countAudited(store: { actions: { list(f: ActionFilter): { rows: { id: number }[]; nextBefore: number | null } } }): number {
  let n = 0;
  let before: number | undefined;
  for (;;) {
    const page = store.actions.list({ text: "GET /bench/", limit: 1000, ...(before !== undefined ? { before } : {}) });
    n += page.rows.length;
    if (page.nextBefore === null) return n;
    before = page.nextBefore;
  }
}

/** Runs (a) and (b); `detail` adds per-case extras. */
export async function runDashboardBench(detail = false): Promise<void> {
  await listBench(detail);
  await feedBench(detail);
}
