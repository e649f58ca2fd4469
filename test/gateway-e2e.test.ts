/**
 * The assembled gateway end to end: `startGateway` on a real config file,
 * the `proxy` transport, the dispatcher's SNI routing, TLS interception,
 * credential injection from the environment, the audit log in SQLite and hot
 * reload — driven by real `curl` against a local HTTPS upstream that has its
 * own CA. Also checks that the real secret appears nowhere the agent, the
 * database or the logs could show it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { loadOrCreateCa } from "../src/gateway/tls/ca.js";
import { MemoryStore, mintTestCert } from "../src/gateway/tls/test-helpers.js";
import { Upstream } from "../src/gateway/protocols/http/testkit.js";
import { freePort } from "../src/testing/net.js";

const SECRET = "ghp_REAL-e2e-secret-7f3a9c1d5e";
const SECRET_ENV = "CLAWPATROL_SECRET_E2E_TOKEN";


function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile("curl", ["-sS", "--max-time", "10", ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr });
    });
  });
}

function config(o: { proxyPort: number; infoPort: number; upstreamPort: number; caPem: string; stateDir: string; writesVerdict: string }): string {
  return `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(o.stateDir)}
  dashboard_listen = "127.0.0.1:${o.infoPort}"
  resolve          = { "api.e2e.test" = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:${o.proxyPort}"
    profile = "default"
    device  = "e2e-laptop"
  }
}

endpoint "https" "api" {
  hosts   = ["api.e2e.test:${o.upstreamPort}"]
  ca_cert = <<-EOT
${o.caPem.trim().split("\n").map((l) => `    ${l}`).join("\n")}
  EOT
}

credential "bearer_token" "e2e_token" { endpoint = https.api }

rule "reads" {
  endpoint  = https.api
  condition = "http.method == 'GET'"
  verdict   = "allow"
}

rule "writes" {
  endpoint  = https.api
  condition = "http.method == 'POST'"
  verdict   = ${JSON.stringify(o.writesVerdict)}
  reason    = "writes are blocked in e2e"
}

profile "default" { credentials = [bearer_token.e2e_token] }
`;
}

describe("gateway end to end (proxy transport, real curl)", () => {
  let dir: string;
  let gw: RunningGateway;
  let upstream: Upstream;
  let proxyPort: number;
  let infoPort: number;
  let gatewayCaFile: string;
  let cfgFile: string;
  let cfg: Parameters<typeof config>[0];
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "clawpatrol-e2e-"));
    const upstreamCa = await loadOrCreateCa(new MemoryStore());
    const leaf = await mintTestCert(upstreamCa, "api.e2e.test", "server");
    upstream = new Upstream({ ...leaf, caPem: upstreamCa.certPem });
    upstream.routes.set("/echo-auth", (req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "x-seen-auth": String(req.headers.authorization ?? "") });
      res.end(`you sent: ${String(req.headers.authorization ?? "")}\n`);
    });
    upstream.routes.set("/slow", (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("slow but complete\n");
      }, 600);
    });
    await upstream.start();
    proxyPort = await freePort();
    infoPort = await freePort();
    cfgFile = join(dir, "gateway.hcl");
    cfg = { proxyPort, infoPort, upstreamPort: upstream.port, caPem: upstreamCa.certPem, stateDir: join(dir, "state"), writesVerdict: "deny" };
    writeFileSync(cfgFile, config(cfg));
    process.env[SECRET_ENV] = SECRET;
    gw = await startGateway({ configPath: cfgFile, watch: false, log: createLogger({ level: "debug", pretty: false, write: (l) => void logs.push(l) }) });
    gatewayCaFile = join(dir, "gateway-ca.pem");
    const ca = await fetch(`http://127.0.0.1:${infoPort}/ca.crt`);
    assert.equal(ca.status, 200);
    writeFileSync(gatewayCaFile, await ca.text());
  });

  after(async () => {
    delete process.env[SECRET_ENV];
    await gw?.close(1000);
    upstream?.server.close();
    upstream?.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  const via = (path: string, extra: string[] = []) =>
    curl([
      "--proxy",
      `socks5h://127.0.0.1:${proxyPort}`,
      "--cacert",
      gatewayCaFile,
      "-H",
      "Authorization: Bearer PLACEHOLDER",
      "-w",
      "\n%{http_code}",
      ...extra,
      `https://api.e2e.test:${upstream.port}${path}`,
    ]);

  it("serves /info and /ca.crt on the info listener", async () => {
    const info = (await (await fetch(`http://127.0.0.1:${infoPort}/info`)).json()) as { ca: { fingerprint_sha256: string } };
    assert.equal(info.ca.fingerprint_sha256, gw.ca.fingerprint256);
  });

  it("an allowed GET reaches upstream with the real token while the agent sent a placeholder", async () => {
    const r = await via("/echo-auth");
    assert.equal(r.code, 0, r.err);
    const [body, status] = [r.out.slice(0, r.out.lastIndexOf("\n")), r.out.slice(r.out.lastIndexOf("\n") + 1)];
    assert.equal(status, "200");
    const seen = upstream.seen.find((s) => s.url === "/echo-auth");
    assert.equal(seen?.headers.authorization, `Bearer ${SECRET}`);
    // The upstream echoed the secret back; the agent must not see it.
    assert.doesNotMatch(body, new RegExp(SECRET));
    assert.match(body, /you sent: Bearer \*+/);
  });

  it("a denied POST gets 403 with the reason and never reaches upstream", async () => {
    const before = upstream.count("/things");
    const r = await via("/things", ["-X", "POST", "--data", "{}"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /writes are blocked in e2e\n?\n403$/);
    assert.equal(upstream.count("/things"), before);
  });

  it("every action is in the audit log, attributed to the proxy's device", () => {
    gw.flushAudit();
    const { rows } = gw.store.actions.list({ limit: 50 });
    const get = rows.find((r) => r.summary?.includes("/echo-auth"));
    const post = rows.find((r) => r.summary?.includes("/things"));
    assert.ok(get && post, JSON.stringify(rows));
    assert.deepEqual([get.verdict, get.rule, get.endpoint, get.device], ["allow", "reads", "https.api", "e2e-laptop"]);
    assert.deepEqual([post.verdict, post.rule, post.reason], ["deny", "writes", "writes are blocked in e2e"]);
  });

  it("hot reload: a config edit takes effect, a broken edit is rejected and the old policy keeps serving", async () => {
    writeFileSync(cfgFile, config({ ...cfg, writesVerdict: "allow" }));
    assert.equal(gw.reload(), true);
    const allowed = await via("/things", ["-X", "POST", "--data", "{}"]);
    assert.match(allowed.out, /\n200$/);
    writeFileSync(cfgFile, `${config({ ...cfg, writesVerdict: "allow" })}\nrule "broken" {\n`);
    assert.equal(gw.reload(), false);
    assert.ok(logs.some((l) => l.includes("config reload rejected")));
    const still = await via("/things", ["-X", "POST", "--data", "{}"]);
    assert.match(still.out, /\n200$/);
  });

  it("streams every recorded action to live subscribers", async () => {
    const seen: string[] = [];
    const off = gw.subscribeActions((row) => seen.push(`${row.verdict} ${row.rule ?? ""} ${row.summary ?? ""}`));
    await via("/live");
    gw.flushAudit();
    off();
    assert.ok(seen.some((l) => l.startsWith("allow reads") && l.includes("/live")), seen.join("\n"));
  });

  it("reloads while requests flow: no request fails because of a good or a broken edit", async () => {
    const results: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) results.push((await via("/flow")).out.slice(-3));
    };
    const workers = [worker(), worker(), worker()];
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(cfgFile, config({ ...cfg, writesVerdict: "deny" }));
    assert.equal(gw.reload(), true);
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(cfgFile, `${config(cfg)}\nrule "broken" {\n`);
    assert.equal(gw.reload(), false);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(workers);
    assert.ok(results.length >= 6, `only ${results.length} requests ran`);
    assert.deepEqual([...new Set(results)], ["200"]);
  });

  it("the real secret is nowhere in what the agent saw, the database or the logs", async () => {
    const r = await via("/echo-auth", ["-i"]);
    assert.doesNotMatch(r.out, new RegExp(SECRET));
    for (const name of readdirSync(cfg.stateDir)) {
      const bytes = readFileSync(join(cfg.stateDir, name));
      assert.equal(bytes.includes(Buffer.from(SECRET)), false, `${name} contains the secret`);
    }
    assert.equal(logs.join("").includes(SECRET), false, "logs contain the secret");
  });

  it("closing drains in-flight requests: a request started before close completes", async () => {
    const pending = via("/slow");
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await gw.close(5000);
    const r = await pending;
    assert.match(r.out, /slow but complete\n\n200$/);
    assert.ok(Date.now() - t0 >= 300, "close waited for the in-flight request");
    // New connections are refused once closed.
    const after = await via("/echo-auth");
    assert.notEqual(after.code, 0);
  });
});
