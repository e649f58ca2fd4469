/**
 * End to end over real WireGuard: a gateway in this process with
 * `gateway { wireguard {} }`, the real `clawpatrol` CLI as child processes
 * (`join`, `run -- curl ...`), approval through the management API, and a
 * fake HTTPS upstream that records what reached it.
 *
 * - join + approve + `run -- curl https://api...` ⇒ 200 with the profile's
 *   credential injected upstream, the gateway CA trusted via env pushdown;
 * - a TCP connection to an unlisted host (an echo server on this host's
 *   non-loopback address) is relayed;
 * - two concurrent runs under different profiles get different credentials;
 * - exit codes propagate, SIGTERM is forwarded, namespaces are cleaned up;
 * - a blocked device can no longer connect.
 *
 * Needs root, ip, wg, wireguard-go, /dev/net/tun and curl; skipped without
 * them unless CI is set, where their absence fails the suite.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { loadOrCreateCa } from "../src/gateway/tls/ca.js";
import { MemoryStore, mintTestCert } from "../src/gateway/tls/test-helpers.js";
import { Upstream } from "../src/gateway/protocols/http/testkit.js";
import { adminToken } from "../src/testing/admin-token.js";
import { freePort } from "../src/testing/net.js";
import { have, wgClientUnavailable } from "../src/device/wg-go.js";
import { pgToolsMissing, startPgCluster, type PgCluster } from "../src/testing/pg-cluster.js";
import { cli, hostAddress, ourNamespaces } from "./wireguard-kit.js";

const API_HOST = "api.wg-e2e.test";
const SECRET_A = `sk-alpha-REAL-${randomBytes(8).toString("hex")}`;
const SECRET_B = `sk-beta-REAL-${randomBytes(8).toString("hex")}`;
const PG_PASSWORD = `pg-REAL-${randomBytes(8).toString("hex")}`;
const PG_HOST = "db.wg-e2e.test";
/** Any address outside the namespace: the flow's destination; the SNI decides the endpoint. */
const FAKE_IP = "203.0.113.10";

const unavailable = wgClientUnavailable() ?? (have("curl") ? null : "curl not installed");
if (unavailable && process.env.CI) {
  it("WireGuard e2e prerequisites are present (CI)", () => assert.fail(`cannot run the WireGuard e2e suite under CI: ${unavailable}`));
}

describe("WireGuard e2e: clawpatrol join / devices approve / run", { skip: unavailable ?? false }, () => {
  let dir: string;
  let gw: RunningGateway;
  let api: Upstream;
  let pg: PgCluster | undefined;
  const pgMissing = pgToolsMissing();
  let echo: Server;
  let echoPort = 0;
  let base = "";
  let token = "";
  const logs: string[] = [];
  const devices: Record<string, { dir: string; id: string }> = {};

  /** `clawpatrol join` as a child, approved through the API with `profile`. */
  async function enrollDevice(name: string, profile: string): Promise<void> {
    const ddir = join(dir, `device-${name}`);
    let approved = false;
    const joined = cli(["join", base, "--name", name, "--config-dir", ddir, "--poll-ms", "100", "--timeout", "30"], {
      onStdout: (out) => {
        const code = /enrollment code:\s+(\S+)/.exec(out)?.[1];
        if (!code || approved) return;
        approved = true;
        void (async () => {
          const r = await fetch(`${base}/api/devices?code=${code}`, { headers: { authorization: `Bearer ${token}` } });
          const [dev] = (await r.json()) as { id: string }[];
          devices[name] = { dir: ddir, id: dev!.id };
          const a = await fetch(`${base}/api/devices/${dev!.id}/approve`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ profile }),
          });
          assert.equal(a.status, 200);
        })();
      },
    });
    const r = await joined;
    assert.equal(r.code, 0, `join failed: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`CA fingerprint:\\s+${gw.ca.fingerprint256}`));
  }

  const runIn = (name: string, cmd: string[], o: Parameters<typeof cli>[1] = {}) => cli(["run", "--config-dir", devices[name]!.dir, "--", ...cmd], o);
  const curlApi = (name: string, path: string) =>
    runIn(name, ["curl", "-sS", "--max-time", "10", "--resolve", `${API_HOST}:${api.port}:${FAKE_IP}`, `https://${API_HOST}:${api.port}${path}`]);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-wg-e2e-"));
    const apiCa = await loadOrCreateCa(new MemoryStore());
    api = new Upstream({ ...(await mintTestCert(apiCa, API_HOST, "server")), caPem: apiCa.certPem });
    api.routes.set("/whoami", (_req, res) => res.end("hello from upstream\n"));
    await api.start();
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "0.0.0.0", r));
    echoPort = (echo.address() as { port: number }).port;

    if (!pgMissing) {
      pg = await startPgCluster({ databases: ["appdb"], roles: [{ name: "app", password: PG_PASSWORD, auth: "scram-sha-256" }] });
      await pg.sql("create table items(id int primary key, name text); insert into items values (1, 'one'), (2, 'two'); grant all on items to app;", { database: "appdb" });
    }
    const [port, wgPort] = [await freePort(), await freePort()];
    const cfg = join(dir, "gw.hcl");
    writeFileSync(
      cfg,
      `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(join(dir, "state"))}
  dashboard_listen = "127.0.0.1:${port}"
  resolve          = { ${JSON.stringify(API_HOST)} = "127.0.0.1", ${JSON.stringify(PG_HOST)} = "127.0.0.1" }
  wireguard {
    subnet_cidr = "10.77.0.0/24"
    listen_port = ${wgPort}
    endpoint    = "127.0.0.1:${wgPort}"
  }
}
endpoint "https" "api" {
  hosts   = ["${API_HOST}:${api.port}"]
  ca_cert = <<-EOT
${apiCa.certPem.trim().split("\n").map((l) => `    ${l}`).join("\n")}
  EOT
}
credential "bearer_token" "tok_a" { endpoint = https.api }
credential "bearer_token" "tok_b" { endpoint = https.api }
endpoint "postgres" "db" {
  host    = "${PG_HOST}:${pg?.port ?? 5432}"
  sslmode = "disable"
}
credential "postgres_credential" "pg_app" {
  endpoint    = postgres.db
  user        = "app"
  placeholder = "ph-pg-alpha"
}
profile "alpha" { credentials = [bearer_token.tok_a, postgres_credential.pg_app] }
profile "beta" { credentials = [bearer_token.tok_b] }
`,
    );
    Object.assign(process.env, { CLAWPATROL_SECRET_TOK_A: SECRET_A, CLAWPATROL_SECRET_TOK_B: SECRET_B, CLAWPATROL_SECRET_PG_APP: PG_PASSWORD });
    gw = await startGateway({ configPath: cfg, watch: false, log: createLogger({ level: "debug", pretty: false, write: (l) => void logs.push(l) }) });
    base = `http://127.0.0.1:${port}`;
    token = adminToken(gw.store);
    await enrollDevice("alpha-box", "alpha");
    await enrollDevice("beta-box", "beta");
  });

  after(async () => {
    await gw?.close(1000);
    api?.server.close();
    await pg?.stop();
    delete process.env.CLAWPATROL_SECRET_PG_APP;
    echo?.close();
    delete process.env.CLAWPATROL_SECRET_TOK_A;
    delete process.env.CLAWPATROL_SECRET_TOK_B;
    rmSync(dir, { recursive: true, force: true });
  });

  it("run -- curl: 200 through the tunnel, the profile's credential injected upstream, CA via env pushdown", async (t) => {
    const r = await curlApi("alpha-box", "/whoami?from=alpha");
    t.diagnostic(`curl: ${r.stdout.trim()} ${r.stderr.trim()}`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${logs.slice(-20).join("\n")}`);
    assert.equal(r.stdout, "hello from upstream\n");
    const seen = api.seen.find((s) => s.url === "/whoami?from=alpha");
    assert.equal(seen?.headers.authorization, `Bearer ${SECRET_A}`);
    assert.ok(!r.stdout.includes(SECRET_A) && !r.stderr.includes(SECRET_A));
    const flow = logs.find((l) => l.includes("flow routed") && l.includes(`${FAKE_IP}:${api.port}`));
    assert.ok(flow, "the dispatcher saw the original destination");
  });

  it("two concurrent runs under different profiles get different credentials", async () => {
    const [a, b] = await Promise.all([curlApi("alpha-box", "/whoami?c=a"), curlApi("beta-box", "/whoami?c=b")]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(api.seen.find((s) => s.url === "/whoami?c=a")?.headers.authorization, `Bearer ${SECRET_A}`);
    assert.equal(api.seen.find((s) => s.url === "/whoami?c=b")?.headers.authorization, `Bearer ${SECRET_B}`);
  });

  it("DNS in the tunnel: the endpoint's name resolves via the gateway and curl works without --resolve", async (t) => {
    const r = await runIn("alpha-box", ["sh", "-c", `getent hosts ${API_HOST}; curl -sS --max-time 10 https://${API_HOST}:${api.port}/whoami?dns=1`]);
    t.diagnostic(r.stdout.trim());
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^(\d+\.){3}\d+\s+api\.wg-e2e\.test/m);
    assert.match(r.stdout, /hello from upstream/);
    assert.equal(api.seen.find((s) => s.url === "/whoami?dns=1")?.headers.authorization, `Bearer ${SECRET_A}`);
  });

  it("run -- psql: a Postgres endpoint by name, the placeholder password from the env pushdown", { skip: pgMissing || false }, async (t) => {
    const r = await runIn("alpha-box", ["psql", "-At", "-h", PG_HOST, "-p", String(pg!.port), "-U", "app", "-d", "appdb", "-c", "select name from items order by id"]);
    t.diagnostic(`psql: ${r.stdout.trim().replace(/\n/g, ", ")} ${r.stderr.trim()}`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${logs.filter((l) => /postgres|flow/.test(l)).slice(-10).join("\n")}`);
    assert.equal(r.stdout, "one\ntwo\n");
    assert.ok(!r.stdout.includes(PG_PASSWORD) && !r.stderr.includes(PG_PASSWORD));
  });

  it("a TCP connection to an unlisted host is relayed", { skip: hostAddress() === undefined ? "no non-loopback IPv4 address" : false }, async () => {
    const ip = hostAddress()!;
    const script = `const s=require("net").connect(${echoPort},${JSON.stringify(ip)},()=>s.write("ping-through-tunnel"));s.on("data",d=>{process.stdout.write(d);s.end()});s.on("error",e=>{console.error(e.message);process.exit(3)})`;
    const r = await runIn("alpha-box", [process.execPath, "-e", script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "ping-through-tunnel");
  });

  it("env pushdown: CA bundle variables and the profile's placeholders; exit codes propagate", async () => {
    const r = await runIn("alpha-box", ["sh", "-c", 'echo "$SSL_CERT_FILE|$CURL_CA_BUNDLE|$PGPASSWORD|$CLAWPATROL_PROFILE"; cat /etc/resolv.conf; exit 7']);
    assert.equal(r.code, 7);
    const [vars] = r.stdout.split("\n");
    assert.match(vars!, /ca-bundle\.pem\|.*ca-bundle\.pem\|ph-pg-alpha\|alpha$/);
    assert.match(r.stdout, /nameserver 10\.77\.0\.1/);
    const beta = await runIn("beta-box", ["sh", "-c", 'echo "[$PGPASSWORD]"']);
    assert.equal(beta.stdout, "[]\n", "beta's profile has no postgres placeholder");
  });

  it("the namespace has no way out but the tunnel; the gateway's management API is unreachable inside it", async () => {
    const r = await runIn("alpha-box", ["sh", "-c", "ip -o link | cut -d: -f2; ip route"]);
    assert.equal(r.code, 0, r.stderr);
    const links = r.stdout.split("\n").filter((l) => /^\s*\S+$/.test(l)).map((l) => l.trim());
    assert.equal(links.length, 2, r.stdout);
    assert.equal(links[0], "lo");
    assert.match(r.stdout, /default dev cpr[0-9a-f]{8}/);
    const curl = (path: string) => runIn("alpha-box", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", `http://10.77.0.1:${new URL(base).port}${path}`]);
    assert.equal((await curl("/ca.crt")).stdout, "200");
    assert.equal((await curl("/api/devices")).stdout, "404");
    assert.equal((await curl("/api/state")).stdout, "404");
  });

  it("SIGTERM is forwarded to the command and everything is cleaned up", async () => {
    let child: ChildProcess | undefined;
    let sentAt = 0;
    // The trap is set before "started" is printed (the signal follows that line at once, and a TERM
    // before the trap would kill the shell silently). The background sleep must not hold our stdout
    // pipe open after the shell exits.
    const done = runIn("alpha-box", ["sh", "-c", "trap 'echo got-term; exit 42' TERM; echo started; sleep 30 >/dev/null 2>&1 & wait"], {
      onStart: (c) => (child = c),
      onStdout: (out) => {
        if (out.includes("started") && child && !sentAt) {
          sentAt = Date.now();
          child.kill("SIGTERM");
        }
      },
    });
    const r = await done;
    assert.match(r.stdout, /got-term/);
    assert.equal(r.code, 42);
    assert.ok(Date.now() - sentAt < 5000, "the command got the signal at once");
    assert.deepEqual(ourNamespaces(child!.pid!), []);
    assert.ok(!readdirSync("/etc/netns").some((n) => n.startsWith(`cprun-${child!.pid}-`)));
  });

  it("a blocked device can no longer connect", async () => {
    const id = devices["beta-box"]!.id;
    const r = await fetch(`${base}/api/devices/${id}/block`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.ok(!gw.wireguard!.peers().some((p) => p.deviceId === id), "no longer a peer");
    const before = api.seen.length;
    const c = await curlApi("beta-box", "/whoami?blocked=1");
    assert.notEqual(c.code, 0);
    assert.equal(api.seen.length, before, "nothing reached the upstream");
    assert.ok((gw.wireguard!.device.stats.dropped["unknown-peer"] ?? 0) > 0, "its packets are dropped at the device");
    // The other device is unaffected.
    assert.equal((await curlApi("alpha-box", "/whoami?after-block=1")).code, 0);
  });
});
