/**
 * HTTPS interception benchmark (`npm run bench`): what the gateway adds to a
 * keep-alive HTTPS request, against two baselines measured in the same run
 * on the same machine:
 *
 * - direct: the client talks TLS straight to the upstream (the physical
 *   limit — whatever the gateway adds is the difference);
 * - mitmproxy: `mitmdump` (the Debian package) in regular proxy mode, the
 *   usual peer for TLS interception; skipped, with a line saying so, when
 *   it is not installed.
 *
 * Setup, all on 127.0.0.1: an HTTPS upstream with its own CA answering a
 * tiny fixed JSON body; the assembled gateway (`startGateway`) with a
 * `proxy` listener, a `resolve` entry for the upstream's name, one https
 * endpoint trusting the upstream CA through `ca_cert`, a `bearer_token`
 * credential whose secret comes from `CLAWPATROL_SECRET_*`, and an allow
 * rule for GET — so every measured request goes through the decision,
 * credential injection, response redaction and an audit write. Clients
 * reach the gateway and mitmproxy with an HTTP `CONNECT` tunnel, then TLS
 * trusting the interceptor's CA, and reuse that connection (Node's
 * `https.Agent`, `keepAlive`).
 *
 * Every party has its own event loop, as it would in a deployment: the
 * client and the upstream each run in a worker thread, the gateway on the
 * main thread, mitmproxy in its own process. So the direct baseline crosses
 * threads as a real client-to-server request crosses processes, and the
 * gateway and mitmproxy each have a thread to themselves. Everything still
 * shares the machine's cores, which the output states.
 *
 * Measured per path:
 * - latency: after a warm-up, N sequential requests on one connection,
 *   p50 / p99, and the added latency (path − direct);
 * - throughput: C concurrent keep-alive connections for a fixed time,
 *   requests/s, as ratios gateway/direct and gateway/mitmproxy.
 *
 * Targets (issue #3): p50 overhead ≤ 1 ms, throughput ≥ 3× mitmproxy's.
 *
 * Before measuring it checks that through the gateway the upstream sees the
 * real token while the client sent a placeholder, that the request was
 * audited as allowed by the GET rule, and that every path answers 200.
 */
import { freePort } from "../src/testing/net.js";
import { startBenchGateway } from "./gateway-kit.js";
import { percentile } from "./stats.js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer as createHttpsServer, request as httpsRequest, type RequestOptions } from "node:https";
import type { Server as HttpsServer } from "node:https";
import { connect as netConnect, type AddressInfo } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const HOST = "api.bench.test";
const SECRET_ENV = "CLAWPATROL_SECRET_BENCH_TOKEN";
const PLACEHOLDER = "PLACEHOLDER-bench-token";
const BODY = JSON.stringify({ ok: true, items: [1, 2, 3] });
const WORKER_ROLE = "clawpatrol-https-bench-worker";

const LATENCY_WARMUP = 300;
const LATENCY_N = 2000;
const CONNS = 16;
const THROUGHPUT_MS = 5000;

// ---------------------------------------------------------------------------
// The worker threads: one runs the client, another the upstream (same code, different jobs).

/** How the client reaches the upstream. */
interface Route {
  label: string;
  /** Where the TCP connection goes. */
  connectHost: string;
  connectPort: number;
  /** `CONNECT` target when going through a proxy; absent for direct. */
  tunnelTo?: string;
  /** TLS server name, the CA trusted for it, and the URL's host:port. */
  servername: string;
  caPem: string;
  authority: { host: string; port: number };
}

type Job =
  | { id: number; kind: "upstream-start"; cert: { certPem: string; keyPem: string; caPem: string } }
  | { id: number; kind: "upstream-state" }
  | { id: number; kind: "upstream-stop" }
  | { id: number; kind: "probe"; route: Route }
  | { id: number; kind: "latency"; route: Route; warmup: number; n: number }
  | { id: number; kind: "throughput"; route: Route; conns: number; ms: number };

type JobResult =
  | { kind: "upstream-start"; port: number }
  | { kind: "upstream-state"; requests: number; lastAuthorization: string }
  | { kind: "upstream-stop" }
  | { kind: "probe"; status: number; body: string }
  | { kind: "latency"; samplesUs: number[]; connections: number }
  | { kind: "throughput"; requests: number; elapsedMs: number; connections: number };

/** The upstream: a fixed tiny JSON body, keep-alive, remembering the last Authorization it saw. */
async function startUpstream(cert: { certPem: string; keyPem: string; caPem: string }) {
  const state = { requests: 0, lastAuthorization: "" };
  const server: HttpsServer = createHttpsServer({ cert: `${cert.certPem}\n${cert.caPem}`, key: cert.keyPem, keepAliveTimeout: 60_000 }, (req, res) => {
    state.requests++;
    state.lastAuthorization = String(req.headers.authorization ?? "");
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) });
      res.end(BODY);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, state, port: (server.address() as AddressInfo).port };
}

let upstream: Awaited<ReturnType<typeof startUpstream>> | undefined;

/** Opens the TLS connection a route describes (through a CONNECT tunnel when it has one). */
function openTls(route: Route): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: route.connectHost, port: route.connectPort });
    tcp.setNoDelay(true);
    const timer = setTimeout(() => fail(new Error(`${route.label}: connection not ready in 10 s`)), 10_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      tcp.destroy();
      reject(e);
    };
    const startTls = () => {
      const tls = tlsConnect({ socket: tcp, servername: route.servername, ca: route.caPem });
      tls.once("secureConnect", () => {
        clearTimeout(timer);
        tls.off("error", fail);
        resolve(tls);
      });
      tls.once("error", fail);
    };
    tcp.once("error", fail);
    if (route.tunnelTo === undefined) {
      tcp.once("connect", startTls);
      return;
    }
    tcp.once("connect", () => tcp.write(`CONNECT ${route.tunnelTo} HTTP/1.1\r\nHost: ${route.tunnelTo}\r\n\r\n`));
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      tcp.off("data", onData);
      const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      if (!/^HTTP\/1\.[01] 200\b/.test(status)) return fail(new Error(`${route.label}: CONNECT refused: ${status}`));
      if (head.length > end + 4) return fail(new Error(`${route.label}: bytes after the CONNECT reply`));
      tcp.pause();
      startTls();
    };
    tcp.on("data", onData);
  });
}

/** A keep-alive agent whose connections are opened by {@link openTls}. */
class RouteAgent extends Agent {
  connections = 0;
  constructor(
    readonly route: Route,
    maxSockets: number,
  ) {
    super({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }
  override createConnection(_options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.connections++;
    openTls(this.route).then(
      (s) => callback?.(null, s),
      (e: Error) => callback?.(e, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** One GET; resolves with status and body. */
function get(agent: RouteAgent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { host, port } = agent.route.authority;
    const req = httpsRequest(
      { agent, host, port, path: "/bench", method: "GET", headers: { authorization: `Bearer ${PLACEHOLDER}`, accept: "application/json" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${agent.route.label}: no response in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

async function getOk(agent: RouteAgent): Promise<void> {
  const r = await get(agent);
  if (r.status !== 200) throw new Error(`${agent.route.label}: status ${r.status}: ${r.body.slice(0, 200)}`);
}

async function runJob(job: Job): Promise<JobResult> {
  if (job.kind === "upstream-start") {
    upstream = await startUpstream(job.cert);
    return { kind: "upstream-start", port: upstream.port };
  }
  if (job.kind === "upstream-state") {
    if (!upstream) throw new Error("no upstream");
    return { kind: "upstream-state", ...upstream.state };
  }
  if (job.kind === "upstream-stop") {
    upstream?.server.closeAllConnections();
    upstream?.server.close();
    upstream = undefined;
    return { kind: "upstream-stop" };
  }
  if (job.kind === "probe") {
    const agent = new RouteAgent(job.route, 1);
    try {
      return { kind: "probe", ...(await get(agent)) };
    } finally {
      agent.destroy();
    }
  }
  if (job.kind === "latency") {
    const agent = new RouteAgent(job.route, 1);
    try {
      for (let i = 0; i < job.warmup; i++) await getOk(agent);
      const samplesUs: number[] = [];
      for (let i = 0; i < job.n; i++) {
        const t0 = performance.now();
        await getOk(agent);
        samplesUs.push((performance.now() - t0) * 1000);
      }
      return { kind: "latency", samplesUs, connections: agent.connections };
    } finally {
      agent.destroy();
    }
  }
  const agents = Array.from({ length: job.conns }, () => new RouteAgent(job.route, 1));
  try {
    // Open every connection (and warm the path) before the clock starts.
    for (let round = 0; round < 20; round++) await Promise.all(agents.map(getOk));
    let requests = 0;
    const start = performance.now();
    const deadline = start + job.ms;
    await Promise.all(
      agents.map(async (a) => {
        while (performance.now() < deadline) {
          await getOk(a);
          requests++;
        }
      }),
    );
    const elapsedMs = performance.now() - start;
    return { kind: "throughput", requests, elapsedMs, connections: agents.reduce((n, a) => n + a.connections, 0) };
  } finally {
    for (const a of agents) a.destroy();
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === WORKER_ROLE && parentPort) {
  const port = parentPort;
  port.on("message", (job: Job) => {
    runJob(job).then(
      (result) => port.postMessage({ id: job.id, result }),
      (e: Error) => port.postMessage({ id: job.id, error: e.message }),
    );
  });
}

/** The main thread's handle on one worker (the client's or the upstream's). */
class BenchWorker {
  readonly #worker = new Worker(new URL(import.meta.url), { workerData: { role: WORKER_ROLE } });
  readonly #pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>();
  #next = 0;
  constructor() {
    this.#worker.on("message", (m: { id: number; result?: JobResult; error?: string }) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result!);
    });
    const failAll = (e: Error) => {
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    this.#worker.on("error", failAll);
    this.#worker.on("exit", (code) => failAll(new Error(`client worker exited (${code})`)));
  }
  #run<K extends JobResult["kind"]>(job: Omit<Extract<Job, { kind: K }>, "id">): Promise<Extract<JobResult, { kind: K }>> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: JobResult) => void, reject });
      this.#worker.postMessage({ ...job, id });
    });
  }
  async startUpstream(cert: { certPem: string; keyPem: string; caPem: string }): Promise<number> {
    return (await this.#run<"upstream-start">({ kind: "upstream-start", cert })).port;
  }
  upstreamState() {
    return this.#run<"upstream-state">({ kind: "upstream-state" });
  }
  async stopUpstream(): Promise<void> {
    await this.#run<"upstream-stop">({ kind: "upstream-stop" });
  }
  probe(route: Route) {
    return this.#run<"probe">({ kind: "probe", route });
  }
  latency(route: Route) {
    return this.#run<"latency">({ kind: "latency", route, warmup: LATENCY_WARMUP, n: LATENCY_N });
  }
  throughput(route: Route) {
    return this.#run<"throughput">({ kind: "throughput", route, conns: CONNS, ms: THROUGHPUT_MS });
  }
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

// ---------------------------------------------------------------------------
// The gateway and mitmproxy (main thread).

function gatewayConfig(o: { stateDir: string; proxyPort: number; infoPort: number; upstreamPort: number; caPem: string }): string {
  return `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(o.stateDir)}
  dashboard_listen = "127.0.0.1:${o.infoPort}"
  resolve          = { ${JSON.stringify(HOST)} = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:${o.proxyPort}"
    profile = "bench"
    device  = "bench-client"
  }
}

endpoint "https" "api" {
  hosts   = ["${HOST}:${o.upstreamPort}"]
  ca_cert = <<-EOT
${o.caPem.trim().split("\n").map((l) => `    ${l}`).join("\n")}
  EOT
}

credential "bearer_token" "bench_token" { endpoint = https.api }

rule "reads" {
  endpoint  = https.api
  condition = "http.method == 'GET'"
  verdict   = "allow"
}

profile "bench" { credentials = [bearer_token.bench_token] }
`;
}

/** Waits until something accepts TCP connections on the port (or the deadline passes). */
async function waitForPort(port: number, ms: number, alive: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && alive()) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Starts `mitmdump` trusting the upstream CA; undefined (and why) when it cannot run. */
async function startMitmproxy(dir: string, upstreamCaFile: string): Promise<{ proc: ChildProcess; port: number; caPem: string; version: string } | { skipped: string }> {
  const probe = spawnSync("mitmdump", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) return { skipped: "mitmdump is not installed (Debian: apt-get install mitmproxy)" };
  const version = /Mitmproxy:\s*(\S+)/.exec(probe.stdout)?.[1] ?? "?";
  const confdir = join(dir, "mitmproxy");
  const port = await freePort();
  const args = ["--listen-host", "127.0.0.1", "--listen-port", String(port), "--set", `confdir=${confdir}`, "--set", `ssl_verify_upstream_trusted_ca=${upstreamCaFile}`, "-q"];
  const proc = spawn("mitmdump", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  proc.once("exit", () => (exited = true));
  proc.once("error", () => (exited = true));
  const caFile = join(confdir, "mitmproxy-ca-cert.pem");
  const up = await waitForPort(port, 20_000, () => !exited);
  if (!up || !existsSync(caFile)) {
    proc.kill("SIGKILL");
    return { skipped: `mitmdump did not start${stderr ? `: ${stderr.trim().split("\n").pop()}` : ""}` };
  }
  return { proc, port, caPem: readFileSync(caFile, "utf8"), version };
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------
// Figures.

function us(v: number): string {
  return Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`;
}

function signed(v: number): string {
  return `${v >= 0 ? "+" : "−"}${us(Math.abs(v))}`;
}

function rate(n: number): string {
  return n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

interface LatencyFigures {
  p50: number;
  p99: number;
  p90: number;
  p999: number;
  max: number;
  connections: number;
}

function latencyFigures(r: Extract<JobResult, { kind: "latency" }>): LatencyFigures {
  const s = r.samplesUs;
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), p999: percentile(s, 99.9), max: Math.max(...s), connections: r.connections };
}

// ---------------------------------------------------------------------------

/** Runs the HTTPS interception benchmark; `detail` adds tail percentiles and bookkeeping. */
export async function runHttpsBench(detail = false): Promise<void> {
  // Loaded here so the client worker, which imports this module, does not load the gateway.
  const { loadOrCreateCa } = await import("../src/gateway/tls/ca.js");
  const { MemoryStore, mintTestCert } = await import("../src/gateway/tls/test-helpers.js");

  const dir = mkdtempSync(join(tmpdir(), "clawpatrol-bench-https-"));
  const secret = `bench-REAL-${randomBytes(12).toString("hex")}`;
  const logs: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true }), () => void delete process.env[SECRET_ENV]];
  try {
    const upstreamCa = await loadOrCreateCa(new MemoryStore());
    const leaf = await mintTestCert(upstreamCa, HOST, "server");
    const upstreamWorker = new BenchWorker();
    cleanups.unshift(() => upstreamWorker.close());
    const upstreamPort = await upstreamWorker.startUpstream({ ...leaf, caPem: upstreamCa.certPem });
    cleanups.unshift(() => upstreamWorker.stopUpstream());
    const client = new BenchWorker();
    cleanups.unshift(() => client.close());
    const upstreamCaFile = join(dir, "upstream-ca.pem");
    writeFileSync(upstreamCaFile, upstreamCa.certPem);

    const proxyPort = await freePort();
    const infoPort = await freePort();
    const cfgFile = join(dir, "gateway.hcl");
    writeFileSync(cfgFile, gatewayConfig({ stateDir: join(dir, "state"), proxyPort, infoPort, upstreamPort, caPem: upstreamCa.certPem }));
    process.env[SECRET_ENV] = secret;
    const { gw, audited } = await startBenchGateway(cfgFile, logs, cleanups);
    const caRes = await fetch(`http://127.0.0.1:${infoPort}/ca.crt`);
    if (caRes.status !== 200) throw new Error(`gateway /ca.crt answered ${caRes.status}`);
    const gatewayCaPem = await caRes.text();

    const mitm = await startMitmproxy(dir, upstreamCaFile);
    if ("proc" in mitm) cleanups.unshift(() => stopProcess(mitm.proc));

    const authority = { host: HOST, port: upstreamPort };
    const direct: Route = { label: "direct", connectHost: "127.0.0.1", connectPort: upstreamPort, servername: HOST, caPem: upstreamCa.certPem, authority };
    const gateway: Route = {
      label: "gateway",
      connectHost: "127.0.0.1",
      connectPort: proxyPort,
      tunnelTo: `${HOST}:${upstreamPort}`,
      servername: HOST,
      caPem: gatewayCaPem,
      authority,
    };
    // mitmproxy resolves names itself and cannot know the bench host, so the
    // tunnel names the address; the TLS server name (which mitmproxy forwards
    // upstream and verifies against) is the real one.
    const mitmRoute: Route | undefined =
      "proc" in mitm
        ? { label: "mitmproxy", connectHost: "127.0.0.1", connectPort: mitm.port, tunnelTo: `127.0.0.1:${upstreamPort}`, servername: HOST, caPem: mitm.caPem, authority }
        : undefined;

    // Sanity: every path answers 200; through the gateway the upstream gets the real token for the placeholder.
    const d = await client.probe(direct);
    if (d.status !== 200 || d.body !== BODY) throw new Error(`direct probe: ${d.status} ${d.body}`);
    if ((await upstreamWorker.upstreamState()).lastAuthorization !== `Bearer ${PLACEHOLDER}`) throw new Error("direct probe: upstream did not see the placeholder");
    const g = await client.probe(gateway);
    if (g.status !== 200) throw new Error(`gateway probe: ${g.status} ${g.body}\n${logs.join("")}`);
    if ((await upstreamWorker.upstreamState()).lastAuthorization !== `Bearer ${secret}`) throw new Error("gateway probe: upstream did not receive the injected token");
    if (g.body.includes(secret)) throw new Error("gateway probe: the secret reached the client");
    const probe = audited();
    if (probe.last !== "allow reads") throw new Error(`gateway probe: audited as "${probe.last}", expected "allow reads"`);
    if (mitmRoute) {
      const m = await client.probe(mitmRoute);
      if (m.status !== 200 || m.body !== BODY) throw new Error(`mitmproxy probe: ${m.status} ${m.body}`);
    }

    const cores = availableParallelism();
    console.log(`https: keep-alive GET through the proxy transport (CONNECT, TLS interception, decision, bearer injection, redaction, audit write)`);
    console.log(`      sanity: upstream got the real token for the client's placeholder, the request was audited as allowed; all paths answered 200`);
    if (!mitmRoute) console.log(`      peer comparison skipped: ${"skipped" in mitm ? mitm.skipped : ""}`);

    // Latency: one connection per path, sequential requests.
    const lat = {
      direct: latencyFigures(await client.latency(direct)),
      gateway: latencyFigures(await client.latency(gateway)),
      mitm: mitmRoute ? latencyFigures(await client.latency(mitmRoute)) : undefined,
    };
    console.log(`      latency, ${LATENCY_N} sequential requests on one connection (after ${LATENCY_WARMUP} warm-up):`);
    console.log(`      direct (baseline):  p50 ${us(lat.direct.p50)}, p99 ${us(lat.direct.p99)}`);
    const added = (f: LatencyFigures) => `added p50 ${signed(f.p50 - lat.direct.p50)}, p99 ${signed(f.p99 - lat.direct.p99)}`;
    console.log(`      gateway:            p50 ${us(lat.gateway.p50)}, p99 ${us(lat.gateway.p99)} → ${added(lat.gateway)}`);
    const mitmLabel = `mitmproxy ${"version" in mitm ? mitm.version : ""}:`.padEnd(20);
    if (lat.mitm) console.log(`      ${mitmLabel}p50 ${us(lat.mitm.p50)}, p99 ${us(lat.mitm.p99)} → ${added(lat.mitm)}`);
    const overhead = lat.gateway.p50 - lat.direct.p50;
    console.log(`      target p50 overhead ≤ 1 ms → ${(overhead / 1000).toFixed(2)}× target`);
    if (detail) {
      for (const [name, f] of Object.entries(lat)) {
        if (f) console.log(`        ${name.padEnd(8)} p90 ${us(f.p90)}, p99.9 ${us(f.p999)}, max ${us(f.max)}, connections opened ${f.connections}`);
      }
    }

    // Throughput: C connections per path, fixed duration.
    const tput = async (r: Route) => {
      const t = await client.throughput(r);
      return { perSec: (t.requests / t.elapsedMs) * 1000, ...t };
    };
    const auditedBefore = audited().count;
    const served = (await upstreamWorker.upstreamState()).requests;
    const tp = { direct: await tput(direct), gateway: await tput(gateway), mitm: mitmRoute ? await tput(mitmRoute) : undefined };
    const gwServed = tp.gateway.requests;
    console.log(`      throughput, ${CONNS} concurrent keep-alive connections, ${THROUGHPUT_MS / 1000} s per path:`);
    console.log(`      direct (baseline):  ${rate(tp.direct.perSec)} req/s`);
    console.log(`      gateway:            ${rate(tp.gateway.perSec)} req/s → ${(tp.gateway.perSec / tp.direct.perSec).toFixed(2)}× direct`);
    if (tp.mitm) {
      const ratio = tp.gateway.perSec / tp.mitm.perSec;
      console.log(`      mitmproxy:          ${rate(tp.mitm.perSec)} req/s → gateway = ${ratio.toFixed(2)}× mitmproxy`);
      console.log(`      target ≥ 3× mitmproxy → ${(ratio / 3).toFixed(2)}× target`);
    }
    console.log(
      `      note: ${cores} cores shared by the client and the upstream (a worker thread each) and the proxy under test (the gateway on the main thread` +
        `${mitmRoute ? ", mitmproxy as its own process" : ""}); absolute figures are noisy, compare within a run`,
    );
    if (detail) {
      for (const [name, t] of Object.entries(tp)) {
        if (t) console.log(`        ${name.padEnd(8)} ${t.requests} requests in ${t.elapsedMs.toFixed(0)} ms, connections opened ${t.connections}`);
      }
      console.log(`        gateway audit rows during throughput: ${audited().count - auditedBefore} (includes warm-up) for ${gwServed} timed requests; upstream served ${(await upstreamWorker.upstreamState()).requests - served}`);
      const warnings = logs.filter((l) => /"level":"(warn|error)"/.test(l));
      if (warnings.length > 0) console.log(`        gateway warnings/errors: ${warnings.length}; first: ${warnings[0]!.trim()}`);
    }
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // Cleanup is best effort; one failure must not strand the rest.
      }
    }
  }
}
