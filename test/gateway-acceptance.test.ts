/**
 * Acceptance of the assembled gateway (issue 3): `startGateway` on a real
 * config file, the `proxy` transport (HTTP CONNECT), the dispatcher's SNI
 * routing on non-443 ports, TLS interception, credential injection from the
 * environment, the approvals engine, the audit log in SQLite — driven by
 * real clients (Node `fetch` through undici's `ProxyAgent`, `curl`,
 * `kubectl`, a hand-written WebSocket client) against local HTTPS upstreams
 * that each have their own CA. The last test sweeps everything the clients
 * received, the state directory and the captured logs for the real secrets.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProxyAgent } from "undici";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { loadOrCreateCa } from "../src/gateway/tls/ca.js";
import { MemoryStore, mintTestCert } from "../src/gateway/tls/test-helpers.js";
import { Upstream, until, wsAccept, wsEcho, wsFrame, wsParse } from "../src/gateway/protocols/http/testkit.js";
import { acceptanceConfig, clientMissing, freePort, POD_LIST, readUntil, run, scriptFakeApiServer, tunnelTls, type AcceptanceConfig } from "./gateway-acceptance-kit.js";

const API_HOST = "api.e2e.test";
const K8S_HOST = "k8s.e2e.test";
const PLACEHOLDER = "PH_acceptance_api";
// Fresh per run, so a match anywhere can only be a leak from this run.
const API_SECRET = `sk-acc-REAL-${randomBytes(12).toString("hex")}`;
const KUBE_SECRET = `kube-acc-REAL-${randomBytes(12).toString("hex")}`;
const SECRET_ENV = { CLAWPATROL_SECRET_API_TOKEN: API_SECRET, CLAWPATROL_SECRET_KUBE_TOKEN: KUBE_SECRET };
const SSE_GAP_MS = 1000;

type Fetched = { status: number; headers: Headers; body: string };

describe("gateway acceptance (proxy transport; fetch, curl, WebSocket, approvals, kubectl)", () => {
  let dir: string;
  let cfg: AcceptanceConfig;
  let gw: RunningGateway;
  let closed = false;
  let api: Upstream;
  let k8s: Upstream;
  let gatewayCaPem: string;
  let gatewayCaFile: string;
  let proxy: ProxyAgent;
  const logs: string[] = [];
  /** Every byte any client received (bodies, headers, stdout, stderr, frames). */
  const received: Buffer[] = [];
  const keep = (s: string | Buffer) => received.push(Buffer.isBuffer(s) ? s : Buffer.from(s));

  const apiUrl = (path: string) => `https://${API_HOST}:${api.port}${path}`;

  /** Node fetch through the proxy (CONNECT), the agent holding only the placeholder. */
  async function viaFetch(path: string, init: { method?: string; body?: string } = {}): Promise<Fetched> {
    const res = await fetch(apiUrl(path), {
      method: init.method ?? "GET",
      ...(init.body !== undefined ? { body: init.body } : {}),
      headers: { authorization: `Bearer ${PLACEHOLDER}` },
      // undici's dispatcher and Node's bundled fetch types differ only nominally.
      dispatcher: proxy as unknown as RequestInit["dispatcher"],
    } as RequestInit);
    const body = await res.text();
    keep(JSON.stringify([...res.headers]));
    keep(body);
    return { status: res.status, headers: res.headers, body };
  }

  /** Real curl through the proxy's HTTP CONNECT, trusting only the gateway CA. */
  async function viaCurl(path: string, extra: string[] = [], onStdout?: (chunk: string, at: number) => void) {
    const r = await run(
      "curl",
      ["-sS", "--max-time", "15", "--proxy", `http://127.0.0.1:${cfg.proxyPort}`, "--cacert", gatewayCaFile, "-H", `Authorization: Bearer ${PLACEHOLDER}`, ...extra, apiUrl(path)],
      onStdout ? { onStdout } : {},
    );
    keep(r.stdout);
    keep(r.stderr);
    return r;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "clawpatrol-acceptance-"));
    // Two upstreams, each with its own CA; the agent never trusts either.
    const apiCa = await loadOrCreateCa(new MemoryStore());
    const k8sCa = await loadOrCreateCa(new MemoryStore());
    api = new Upstream({ ...(await mintTestCert(apiCa, API_HOST, "server")), caPem: apiCa.certPem });
    k8s = new Upstream({ ...(await mintTestCert(k8sCa, K8S_HOST, "server")), caPem: k8sCa.certPem });

    api.routes.set("/echo-auth", (req, res) => {
      // A careless upstream that reflects the credential back, raw and base64.
      const auth = String(req.headers.authorization ?? "");
      res.writeHead(200, { "content-type": "text/plain", "x-seen-auth": auth });
      res.end(`you sent: ${auth}; b64=${Buffer.from(auth.replace(/^Bearer /, "")).toString("base64")}\n`);
    });
    api.routes.set("/sse", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: one\n\n");
      setTimeout(() => {
        res.write("data: two\n\n");
        res.end();
      }, SSE_GAP_MS);
    });
    api.routes.set("/gated/*", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("approved-ok");
    });
    api.routes.set("/slow-gate", (_req, res) => res.end("should never be reached"));
    api.upgrades.set("/ws", wsEcho());
    scriptFakeApiServer(k8s, KUBE_SECRET);
    await Promise.all([api.start(), k8s.start()]);

    cfg = {
      stateDir: join(dir, "state"),
      proxyPort: await freePort(),
      infoPort: await freePort(),
      apiHost: API_HOST,
      apiPort: api.port,
      apiCaPem: apiCa.certPem,
      apiPlaceholder: PLACEHOLDER,
      k8sHost: K8S_HOST,
      k8sPort: k8s.port,
      k8sCaPem: k8sCa.certPem,
    };
    const cfgFile = join(dir, "gateway.hcl");
    writeFileSync(cfgFile, acceptanceConfig(cfg));
    Object.assign(process.env, SECRET_ENV);
    gw = await startGateway({ configPath: cfgFile, watch: false, log: createLogger({ level: "debug", pretty: false, write: (l) => void logs.push(l) }) });
    const ca = await fetch(`http://127.0.0.1:${cfg.infoPort}/ca.crt`);
    assert.equal(ca.status, 200);
    gatewayCaPem = await ca.text();
    gatewayCaFile = join(dir, "gateway-ca.pem");
    writeFileSync(gatewayCaFile, gatewayCaPem);
    proxy = new ProxyAgent({ uri: `http://127.0.0.1:${cfg.proxyPort}`, requestTls: { ca: gatewayCaPem } });
  });

  after(async () => {
    for (const k of Object.keys(SECRET_ENV)) delete process.env[k];
    await proxy?.close().catch(() => {});
    if (!closed) await gw?.close(1000);
    for (const u of [api, k8s]) {
      u?.server.closeAllConnections();
      u?.server.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("fetch via ProxyAgent: an allowed GET carries the real token upstream; a denied POST gets 403 + reason and never reaches upstream", async () => {
    const ok = await viaFetch("/echo-auth");
    assert.equal(ok.status, 200);
    const seen = api.seen.filter((s) => s.url === "/echo-auth");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers.authorization, `Bearer ${API_SECRET}`, "the upstream got the real token");
    // The agent sent only the placeholder and sees the reflected secret redacted.
    assert.match(ok.body, /^you sent: Bearer \*+; b64=\*+\n$/);
    assert.match(ok.headers.get("x-seen-auth") ?? "", /^Bearer \*+$/);

    const denied = await viaFetch("/things", { method: "POST", body: '{"x":1}' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body, "writes to /things are blocked in acceptance");
    assert.match(denied.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(api.count("/things"), 0, "upstream saw the denied POST");

    await until(() => gw.store.actions.list({ limit: 100 }).rows.some((r) => r.summary?.includes("/things")), 3000, "audit row");
    const rows = gw.store.actions.list({ limit: 100 }).rows;
    const get = rows.find((r) => r.summary?.includes("/echo-auth"));
    const post = rows.find((r) => r.summary?.includes("/things"));
    assert.deepEqual([get?.verdict, get?.rule, get?.endpoint, get?.device], ["allow", "reads", "https.api", "acceptance-agent"]);
    assert.deepEqual([post?.verdict, post?.rule, post?.reason], ["deny", "writes", "writes to /things are blocked in acceptance"]);
  });

  it("curl via HTTP CONNECT: the same allow / deny through a real curl", async (t) => {
    const skip = clientMissing("curl", ["--version"]);
    if (skip) return t.skip(skip);
    const before = api.count("/echo-auth");
    const ok = await viaCurl("/echo-auth", ["-i"]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^HTTP\/1\.1 200 /);
    assert.equal(api.count("/echo-auth"), before + 1);
    assert.equal(api.seen.at(-1)?.headers.authorization, `Bearer ${API_SECRET}`);
    const denied = await viaCurl("/things", ["-X", "POST", "--data", "{}", "-w", "\n%{http_code}"]);
    assert.equal(denied.status, 0, denied.stderr);
    assert.equal(denied.stdout, "writes to /things are blocked in acceptance\n403");
    assert.equal(api.count("/things"), 0);
  });

  it("SSE: the first event reaches fetch and curl -N long before the stream ends", async (t) => {
    const viaStream = async () => {
      const t0 = Date.now();
      const res = await fetch(apiUrl("/sse"), {
        headers: { authorization: `Bearer ${PLACEHOLDER}`, accept: "text/event-stream" },
        dispatcher: proxy as unknown as RequestInit["dispatcher"],
      } as RequestInit);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      let firstAt = 0;
      let textAtFirst = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        if (!firstAt && text.includes("data: one\n\n")) {
          firstAt = Date.now();
          textAtFirst = text;
        }
      }
      keep(text);
      return { firstMs: firstAt - t0, endMs: Date.now() - t0, text, textAtFirst };
    };
    const viaCurlN = async () => {
      const t0 = Date.now();
      let firstAt = 0;
      let soFar = "";
      let textAtFirst = "";
      const r = await viaCurl("/sse", ["-N", "-H", "Accept: text/event-stream"], (chunk, at) => {
        soFar += chunk;
        if (!firstAt && soFar.includes("data: one\n\n")) {
          firstAt = at;
          textAtFirst = soFar;
        }
      });
      assert.equal(r.status, 0, r.stderr);
      return { firstMs: firstAt - t0, endMs: Date.now() - t0, text: r.stdout, textAtFirst };
    };
    const skipCurl = clientMissing("curl", ["--version"]);
    const results = await Promise.all([viaStream(), ...(skipCurl ? [] : [viaCurlN()])]);
    for (const [i, r] of results.entries()) {
      const who = i === 0 ? "fetch" : "curl -N";
      assert.equal(r.text, "data: one\n\ndata: two\n\n", who);
      assert.ok(!r.textAtFirst.includes("two"), `${who}: the second event came with the first`);
      // Upstream waits SSE_GAP_MS between the events; allow generous slack on a busy 2-core box.
      assert.ok(r.endMs - r.firstMs >= SSE_GAP_MS * 0.6, `${who}: first event at ${r.firstMs} ms, stream ended at ${r.endMs} ms`);
    }
    if (skipCurl) t.diagnostic(skipCurl);
  });

  it("WebSocket: an allowed upgrade through a CONNECT tunnel echoes a masked text frame", async () => {
    const sock = await tunnelTls(cfg.proxyPort, API_HOST, api.port, gatewayCaPem);
    try {
      const key = randomBytes(16).toString("base64");
      sock.write(
        `GET /ws HTTP/1.1\r\nHost: ${API_HOST}:${api.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${PLACEHOLDER}\r\n\r\n`,
      );
      const st = { buf: Buffer.alloc(0) };
      await readUntil(sock, st, (b) => b.includes("\r\n\r\n"), received);
      const headEnd = st.buf.indexOf("\r\n\r\n") + 4;
      const head = st.buf.subarray(0, headEnd).toString("latin1");
      st.buf = st.buf.subarray(headEnd);
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.ok(head.toLowerCase().includes(`sec-websocket-accept: ${wsAccept(key)}`.toLowerCase()), head);
      assert.doesNotMatch(head, /set-cookie/i, "response sanitisation applies to the 101 head");
      const hs = api.seen.filter((s) => s.url === "/ws");
      assert.equal(hs.length, 1);
      assert.equal(hs[0]!.headers.authorization, `Bearer ${API_SECRET}`, "the handshake carried the real token upstream");
      for (const text of ["hello through the gateway", "and again"]) {
        sock.write(wsFrame(text, true));
        await readUntil(sock, st, (b) => wsParse(b) !== undefined, received);
        const frame = wsParse(st.buf)!;
        st.buf = st.buf.subarray(frame.size);
        assert.equal(frame.text, text);
      }
    } finally {
      sock.destroy();
    }
  });

  it("approval: the request waits; allow completes it, deny and timeout refuse it without reaching upstream", async () => {
    const pendingFor = (path: string) => gw.approvals.pending().find((p) => p.subject.summary.includes(path));
    const track = (p: Promise<Fetched>) => {
      const s: { done: boolean; value?: Fetched } = { done: false };
      void p.then((v) => ((s.done = true), (s.value = v)));
      return s;
    };

    // Allow.
    const allowP = viaFetch("/gated/allow", { method: "POST", body: "{}" });
    const allowS = track(allowP);
    await until(() => pendingFor("/gated/allow") !== undefined, 5000, "pending approval (allow)");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(allowS.done, false, "the client completed while its approval was pending");
    assert.equal(api.count("/gated/allow"), 0, "upstream called before the allow");
    const pa = pendingFor("/gated/allow")!;
    assert.equal(pa.stage.name, "dashboard");
    assert.equal(pa.subject.rule, "gated");
    assert.ok(gw.approvals.decide(pa.id, "allow", "acceptance-operator"));
    const allowed = await allowP;
    assert.deepEqual([allowed.status, allowed.body], [200, "approved-ok"]);
    assert.equal(api.count("/gated/allow"), 1);
    assert.equal(api.seen.find((s) => s.url === "/gated/allow")?.headers.authorization, `Bearer ${API_SECRET}`);

    // Deny.
    const denyP = viaFetch("/gated/deny", { method: "POST", body: "{}" });
    const denyS = track(denyP);
    await until(() => pendingFor("/gated/deny") !== undefined, 5000, "pending approval (deny)");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(denyS.done, false);
    assert.ok(gw.approvals.decide(pendingFor("/gated/deny")!.id, "deny", "acceptance-operator", "not during the change freeze"));
    const denied = await denyP;
    assert.deepEqual([denied.status, denied.body], [403, "not during the change freeze"]);
    assert.equal(api.count("/gated/deny"), 0, "upstream called for a denied approval");

    // Timeout (approver `quick`, timeout = 1 s, human_on_timeout default deny).
    const t0 = Date.now();
    const slowP = viaFetch("/slow-gate", { method: "POST", body: "{}" });
    await until(() => pendingFor("/slow-gate") !== undefined, 5000, "pending approval (timeout)");
    const ps = pendingFor("/slow-gate")!;
    assert.deepEqual([ps.stage.name, ps.stage.timeoutMs, ps.stage.onTimeout], ["quick", 1000, "deny"]);
    const slow = await slowP;
    assert.ok(Date.now() - t0 >= 900, `answered after ${Date.now() - t0} ms`);
    assert.deepEqual([slow.status, slow.body], [403, 'approver "quick" did not answer within 1s']);
    assert.equal(api.count("/slow-gate"), 0, "upstream called after an approval timeout");
    assert.equal(gw.approvals.pending().length, 0);

    await until(() => gw.store.actions.list({ limit: 100 }).rows.some((r) => r.summary?.includes("/slow-gate")), 3000, "audit rows");
    const rows = gw.store.actions.list({ limit: 100 }).rows;
    const verdictOf = (p: string) => rows.find((r) => r.summary?.includes(p))?.verdict;
    assert.deepEqual([verdictOf("/gated/allow"), verdictOf("/gated/deny"), verdictOf("/slow-gate")], ["allow", "deny", "deny"]);
  });

  it("real kubectl through the gateway: get pods works, get secrets and exec -i are denied with the reason", async (t) => {
    const skip = clientMissing("kubectl", ["version", "--client"]);
    if (skip) return t.skip(skip);
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "gw", cluster: { server: `https://${K8S_HOST}:${k8s.port}`, "certificate-authority-data": Buffer.from(gatewayCaPem).toString("base64") } }],
        users: [{ name: "agent", user: { token: "kube-placeholder" } }],
        contexts: [{ name: "gw", context: { cluster: "gw", user: "agent", namespace: "default" } }],
        "current-context": "gw",
      }),
    );
    const proxyUrl = `http://127.0.0.1:${cfg.proxyPort}`;
    const env: NodeJS.ProcessEnv = { ...process.env, HTTPS_PROXY: proxyUrl, https_proxy: proxyUrl, NO_PROXY: "", no_proxy: "", HTTP_PROXY: "", http_proxy: "", HOME: dir };
    const kubectl = async (...args: string[]) => {
      const r = await run("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "kube-cache"), "--request-timeout", "10s", ...args], { env });
      keep(r.stdout);
      keep(r.stderr);
      return r;
    };
    const flowsBefore = logs.filter((l) => l.includes('"flow routed"') && l.includes(`${K8S_HOST}:${k8s.port}`)).length;

    const pods = await kubectl("get", "pods", "-o", "json");
    assert.equal(pods.status, 0, pods.stderr);
    assert.deepEqual((JSON.parse(pods.stdout) as typeof POD_LIST).items.map((p) => p.metadata.name), ["web-0"]);
    // The fake server answers only to the real token: every request kubectl made carried it.
    assert.ok(k8s.seen.length > 0);
    for (const s of k8s.seen) assert.equal(s.headers.authorization, `Bearer ${KUBE_SECRET}`, s.url);
    // And it went through the proxy transport (kubectl honoured HTTPS_PROXY), routed by the dispatcher.
    const flowsAfter = logs.filter((l) => l.includes('"flow routed"') && l.includes(`${K8S_HOST}:${k8s.port}`)).length;
    assert.ok(flowsAfter > flowsBefore, "no flow to the API server was routed by the gateway");

    const secrets = await kubectl("get", "secrets");
    assert.notEqual(secrets.status, 0, secrets.stdout);
    assert.match(secrets.stderr, /secrets are off limits to agents/);
    assert.match(secrets.stderr, /Forbidden/);
    assert.equal(k8s.seen.filter((s) => s.url.includes("secrets")).length, 0, "the API server saw a secrets request");

    const exec = await kubectl("exec", "-i", "web-0", "--", "sh");
    assert.notEqual(exec.status, 0, exec.stdout);
    assert.match(exec.stderr, /interactive exec is not allowed/);
    assert.equal(k8s.seen.filter((s) => s.url.includes("/exec")).length, 0, "the API server saw an exec request");
    t.diagnostic(`kubectl get secrets: ${secrets.stderr.trim()}`);
    t.diagnostic(`kubectl exec -i: ${exec.stderr.trim()}`);

    gw.flushAudit();
    const rows = gw.store.actions.list({ limit: 200 }).rows.filter((r) => r.endpoint === "kubernetes.k8s");
    assert.ok(rows.some((r) => r.verdict === "deny" && r.rule === "no-secrets"));
    assert.ok(rows.some((r) => r.verdict === "deny" && r.rule === "no-interactive-exec"));
    assert.ok(rows.some((r) => r.verdict === "allow" && r.rule === "k8s-reads" && r.summary?.includes("/pods")));
  });

  it("secret-leak sweep: no real secret (raw or base64) in what clients received, the state directory or the logs", async () => {
    assert.ok(received.length > 10, "the sweep has material");
    // Both secrets were really used upstream, so their absence below means something.
    assert.ok(api.seen.some((s) => s.headers.authorization === `Bearer ${API_SECRET}`));
    if (k8s.seen.length > 0) assert.ok(k8s.seen.every((s) => s.headers.authorization === `Bearer ${KUBE_SECRET}`));
    const needles = [API_SECRET, KUBE_SECRET].flatMap((s) => [s, Buffer.from(s).toString("base64")]).map((s) => Buffer.from(s));
    const check = (what: string, bytes: Buffer) => {
      for (const n of needles) assert.equal(bytes.includes(n), false, `${what} contains ${n.toString().slice(0, 12)}…`);
    };
    for (const [i, b] of received.entries()) check(`client data #${i} (${b.toString("latin1").slice(0, 80)})`, b);
    const sweepState = () => {
      const names = readdirSync(cfg.stateDir);
      assert.ok(names.includes("clawpatrol.db"), names.join(", "));
      for (const name of names) check(`state file ${name}`, readFileSync(join(cfg.stateDir, name)));
    };
    sweepState();
    assert.ok(logs.filter((l) => l.includes('"level":"debug"')).length >= 10, "the sweep has debug log lines");
    check("logs", Buffer.from(logs.join("")));
    // Once more after a clean shutdown (the WAL checkpointed into the database).
    await gw.close(1000);
    closed = true;
    sweepState();
    check("logs after close", Buffer.from(logs.join("")));
  });
});
