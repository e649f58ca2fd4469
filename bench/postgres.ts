/**
 * Postgres interception benchmark (`npm run bench`): what the gateway adds to
 * a read-only pgbench workload, against two baselines measured in the same
 * run on the same machine:
 *
 * - direct: pgbench talks straight to the server (the physical limit);
 * - pgbouncer: PgBouncer in session pool mode (pool size 8 = one server
 *   connection per client, so it never queues), the usual peer for a
 *   connection-level Postgres proxy.
 *
 * Setup, all on 127.0.0.1 and all without TLS (PGSSLMODE=disable for every
 * path, `sslmode = "disable"` upstream): a throwaway PostgreSQL 15 cluster
 * with a SCRAM login role `app` and database `bench`, `pgbench -i -s 10`
 * run directly as `app`; the assembled gateway (`startGateway`, in this
 * process — as a user runs bench) with a `forward` listener, a `postgres`
 * endpoint, a `postgres_credential` whose password comes from
 * `CLAWPATROL_SECRET_APP` and a deny rule for writes. So every measured
 * statement through the gateway is parsed, decided on, relayed and audited
 * (one SQLite row per statement, batched by the audit writer — part of the
 * real cost, left on).
 *
 * Workload per protocol mode (simple, extended): `pgbench -S -c 8 -j 2 -T
 * <s> -M <mode> -n` (select-only, 8 connections); `BENCH_PG_SECONDS`
 * overrides the default 10 s. Each target runs twice per mode, in an order
 * that alternates between rounds, after a short warm-up per target. TPS is
 * pgbench's own figure (mean over the rounds); p50 / p99 latencies come
 * from pgbench's per-transaction logs (`--log`), all rounds merged. pgbench
 * is spawned asynchronously (the gateway shares this event loop).
 *
 * A third reference, reported but not a target: a bare byte relay in this
 * process using the gateway's socket handling (./node-relay.ts) — what
 * carrying the connection costs in this runtime before any parsing, policy
 * or audit, so the report separates the runtime's floor from the gateway's
 * own work. The gateway's and the relay's CPU per transaction (this
 * process, all threads) are printed too.
 *
 * Targets: gateway TPS ≥ 60% of direct, and added p50 latency ≤
 * 2× PgBouncer's: (gateway p50 − direct p50) ≤ 2 × (pgbouncer p50 − direct
 * p50). With 8 clients on a small machine the server, pgbench and the proxy
 * all compete for the same cores, so p50 mostly reflects throughput.
 *
 * Before measuring it checks that through the gateway a SELECT answers and
 * a DELETE is refused with SQLSTATE 42501 and audited as denied.
 */
import { startNodeRelay } from "./node-relay.js";
import { startBenchGateway } from "./gateway-kit.js";
import { percentileSorted } from "./stats.js";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";

const CLIENTS = 8;
const THREADS = 2;
const SCALE = 10;
const ROUNDS = 2;
const WARMUP_S = 3;
const POOL_SIZE = 8;
const SECRET_ENV = "CLAWPATROL_SECRET_APP";
const PGBENCH = "/usr/bin/pgbench";
const PSQL = "/usr/bin/psql";

type Mode = "simple" | "extended";
type TargetName = "direct" | "pgbouncer" | "node-relay" | "gateway";

interface Target {
  name: TargetName;
  env: NodeJS.ProcessEnv;
}

interface RunResult {
  tps: number;
  avgLatencyMs: number;
  transactions: number;
  failed: number;
  samplesUs: Float64Array;
  /** CPU time of this process (all threads) while pgbench ran — not the log parsing after it. */
  cpuUs: number;
}

interface Figures {
  tps: number;
  p50: number;
  p99: number;
  avg: number;
  transactions: number;
  failed: number;
  samples: number;
}

/** Async spawn; resolves stdout/stderr and the exit code (never spawnSync: the gateway runs on this event loop). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env, ...(cwd ? { cwd } : {}), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.once("error", reject);
    c.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

function withTarget(env: NodeJS.ProcessEnv, port: number): NodeJS.ProcessEnv {
  return { ...env, PGHOST: "127.0.0.1", PGPORT: String(port), PGSSLMODE: "disable" };
}

/** One pgbench run; `logDir` set ⇒ per-transaction latencies are read from its `--log` files. */
async function pgbench(t: Target, mode: Mode, seconds: number, logDir?: string): Promise<RunResult> {
  const prefix = `pgbench-${t.name}-${mode}-${randomBytes(4).toString("hex")}`;
  const args = ["-S", "-c", String(CLIENTS), "-j", String(THREADS), "-T", String(seconds), "-M", mode, "-n"];
  if (logDir) args.push("--log", `--log-prefix=${join(logDir, prefix)}`);
  const cpu0 = process.cpuUsage();
  const r = await run(PGBENCH, args, t.env);
  const cpu = process.cpuUsage(cpu0);
  const out = r.stdout + r.stderr;
  if (r.code !== 0) throw new Error(`pgbench against ${t.name} (${mode}) failed (exit ${r.code}):\n${out.trim()}`);
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : NaN;
  };
  const tps = num(/tps = ([\d.]+) \(without initial connection time\)/);
  if (!Number.isFinite(tps)) throw new Error(`pgbench against ${t.name}: no tps in output:\n${out.trim()}`);
  let samples = new Float64Array(0);
  if (logDir) {
    const files = readdirSync(logDir).filter((f) => f.startsWith(`${prefix}.`));
    const parts: number[] = [];
    for (const f of files) {
      const path = join(logDir, f);
      // Lines: client_id transaction_no time_us script_no epoch_s epoch_us
      for (const line of readFileSync(path, "utf8").split("\n")) {
        const a = line.indexOf(" ");
        const b = line.indexOf(" ", a + 1);
        const c = line.indexOf(" ", b + 1);
        if (c < 0) continue;
        parts.push(Number(line.slice(b + 1, c)));
      }
      rmSync(path, { force: true });
    }
    samples = Float64Array.from(parts);
  }
  return {
    tps,
    avgLatencyMs: num(/latency average = ([\d.]+) ms/),
    transactions: num(/number of transactions actually processed: (\d+)/),
    failed: num(/number of failed transactions: (\d+)/) || 0,
    samplesUs: samples,
    cpuUs: cpu.user + cpu.system,
  };
}

function figures(runs: RunResult[]): Figures {
  const n = runs.reduce((s, r) => s + r.samplesUs.length, 0);
  const all = new Float64Array(n);
  let off = 0;
  for (const r of runs) {
    all.set(r.samplesUs, off);
    off += r.samplesUs.length;
  }
  all.sort();
  return {
    tps: runs.reduce((s, r) => s + r.tps, 0) / runs.length,
    avg: runs.reduce((s, r) => s + r.avgLatencyMs, 0) / runs.length,
    p50: percentileSorted(all, 50),
    p99: percentileSorted(all, 99),
    transactions: runs.reduce((s, r) => s + r.transactions, 0),
    failed: runs.reduce((s, r) => s + r.failed, 0),
    samples: n,
  };
}

function us(v: number): string {
  return Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`;
}

function signed(v: number): string {
  return `${v >= 0 ? "+" : "−"}${us(Math.abs(v))}`;
}

function gatewayConfig(o: { stateDir: string; infoPort: number; forwardPort: number; pgPort: number }): string {
  return `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(o.stateDir)}
  dashboard_listen = "127.0.0.1:${o.infoPort}"
  forward "pg" {
    listen  = "127.0.0.1:${o.forwardPort}"
    to      = "db.internal:${o.pgPort}"
    profile = "agents"
  }
  resolve = { "db.internal" = "127.0.0.1" }
}

endpoint "postgres" "db" {
  host    = "db.internal:${o.pgPort}"
  sslmode = "disable"
}

credential "postgres_credential" "app" {
  endpoint = postgres.db
  user     = "app"
}

profile "agents" { credentials = [postgres_credential.app] }

rule "no-writes" {
  endpoint  = postgres.db
  condition = "sql.verb in ['insert','update','delete','drop']"
  verdict   = "deny"
  reason    = "writes are not allowed"
}
`;
}

/** Runs the Postgres interception benchmark; `detail` adds per-round figures and bookkeeping. */
export async function runPostgresBench(detail = false): Promise<void> {
  const { pgToolsMissing, startPgCluster, startPgBouncer } = await import("../src/testing/pg-cluster.js");
  const { freePort } = await import("../src/testing/net.js");
  const missing = pgToolsMissing();
  if (missing) {
    console.log(`postgres: skipped — ${missing}`);
    return;
  }

  const envSeconds = Number(process.env.BENCH_PG_SECONDS);
  const seconds = Number.isFinite(envSeconds) && envSeconds > 0 ? Math.round(envSeconds) : 10;
  const dir = mkdtempSync(join(tmpdir(), "clawpatrol-bench-pg-"));
  const password = randomBytes(18).toString("base64url");
  const hadSecret = process.env[SECRET_ENV];
  const logs: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [
    () => rmSync(dir, { recursive: true, force: true }),
    () => {
      if (hadSecret === undefined) delete process.env[SECRET_ENV];
      else process.env[SECRET_ENV] = hadSecret;
    },
  ];
  try {
    const cluster = await startPgCluster({ roles: [{ name: "app", password, auth: "scram-sha-256" }], databases: ["bench"], maxConnections: 50 });
    cleanups.unshift(() => cluster.stop());
    const appEnv = cluster.env({ user: "app", password, database: "bench", sslmode: "disable" });
    const init = await run(PGBENCH, ["-i", "-s", String(SCALE), "-q"], appEnv);
    if (init.code !== 0) throw new Error(`pgbench -i failed:\n${init.stderr}`);

    const bouncer = await startPgBouncer(cluster, { user: "app", password, database: "bench", poolMode: "session", poolSize: POOL_SIZE });
    cleanups.unshift(() => bouncer.stop());

    const relay = await startNodeRelay("127.0.0.1", cluster.port);
    cleanups.unshift(() => relay.close());

    const infoPort = await freePort();
    const forwardPort = await freePort();
    const cfgFile = join(dir, "gateway.hcl");
    writeFileSync(cfgFile, gatewayConfig({ stateDir: join(dir, "state"), infoPort, forwardPort, pgPort: cluster.port }));
    process.env[SECRET_ENV] = password;
    const { gw, audited } = await startBenchGateway(cfgFile, logs, cleanups);

    const targets: Target[] = [
      { name: "direct", env: appEnv },
      { name: "pgbouncer", env: withTarget(appEnv, bouncer.port) },
      { name: "node-relay", env: withTarget(appEnv, relay.port) },
      // Any password: the gateway logs in upstream with the credential's own.
      { name: "gateway", env: { ...withTarget(appEnv, forwardPort), PGPASSWORD: "placeholder" } },
    ];
    const gwTarget = targets.find((t) => t.name === "gateway")!;

    // Sanity: every path answers; through the gateway a write is refused (42501) and audited as denied.
    for (const t of targets) {
      const r = await run(PSQL, ["-X", "-At", "-c", "select count(*) from pgbench_branches"], t.env);
      if (r.code !== 0 || r.stdout.trim() !== String(SCALE)) throw new Error(`${t.name} probe failed: ${r.stdout}${r.stderr}\n${logs.join("")}`);
    }
    const denied = await run(PSQL, ["-X", "-At", "-v", "VERBOSITY=verbose", "-c", "delete from pgbench_history"], gwTarget.env);
    if (denied.code === 0 || !denied.stderr.includes("42501")) throw new Error(`gateway: the DELETE was not refused with 42501: ${denied.stdout}${denied.stderr}`);
    const probe = audited();
    if (probe.last !== "deny no-writes") throw new Error(`gateway: the DELETE was audited as "${probe.last}", expected "deny no-writes"`);

    const cores = availableParallelism();
    console.log(`postgres: pgbench -S (select-only), ${CLIENTS} clients / ${THREADS} threads, scale ${SCALE}, no TLS; through the forward transport (statement parse, decision, relay, audit row per statement)`);
    console.log(`      baselines: direct to the server; PgBouncer session mode, pool size ${POOL_SIZE}; node-relay = a bare byte relay in this process (the runtime's floor, not a target)`);
    console.log(`      sanity: every path answered; through the gateway a DELETE was refused with 42501 and audited as denied`);
    console.log(`      ${ROUNDS} rounds × ${seconds} s per target and mode, order alternating between rounds, after a ${WARMUP_S} s warm-up each; p50/p99 from pgbench --log`);

    for (const t of targets) await pgbench(t, "simple", WARMUP_S);

    for (const mode of ["simple", "extended"] as const) {
      const runs = new Map<TargetName, RunResult[]>(targets.map((t) => [t.name, []]));
      const cpuUs = new Map<TargetName, number>();
      const txs = new Map<TargetName, number>();
      const auditedBefore = audited().count;
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const r = await pgbench(t, mode, seconds, dir);
          cpuUs.set(t.name, (cpuUs.get(t.name) ?? 0) + r.cpuUs);
          txs.set(t.name, (txs.get(t.name) ?? 0) + r.transactions);
          runs.get(t.name)!.push(r);
          if (detail) console.log(`        ${mode} round ${round + 1} ${t.name.padEnd(9)} ${r.tps.toFixed(0)} tps, avg ${r.avgLatencyMs.toFixed(3)} ms, ${r.transactions} tx`);
        }
      }
      const auditedRows = audited().count - auditedBefore;
      const f = {
        direct: figures(runs.get("direct")!),
        pgbouncer: figures(runs.get("pgbouncer")!),
        "node-relay": figures(runs.get("node-relay")!),
        gateway: figures(runs.get("gateway")!),
      };
      const ratio = f.gateway.tps / f.direct.tps;
      const gwAdded = f.gateway.p50 - f.direct.p50;
      const pbAdded = f.pgbouncer.p50 - f.direct.p50;
      console.log(`      ${mode} protocol (-M ${mode}):`);
      console.log(`        ${"target".padEnd(11)} ${"TPS".padStart(8)} ${"p50".padStart(9)} ${"p99".padStart(9)} ${"added p50".padStart(10)}`);
      for (const name of ["direct", "pgbouncer", "node-relay", "gateway"] as const) {
        const x = f[name];
        const added = name === "direct" ? "" : signed(x.p50 - f.direct.p50);
        console.log(`        ${name.padEnd(11)} ${x.tps.toFixed(0).padStart(8)} ${us(x.p50).padStart(9)} ${us(x.p99).padStart(9)} ${added.padStart(10)}`);
      }
      console.log(`        gateway/direct TPS ${(ratio * 100).toFixed(0)}% (target ≥ 60%) → ${ratio >= 0.6 ? "PASS" : "MISS"}`);
      const perTx = (name: TargetName) => (cpuUs.get(name) ?? 0) / Math.max(1, txs.get(name) ?? 0);
      console.log(
        `        for reference: node-relay/direct TPS ${((f["node-relay"].tps / f.direct.tps) * 100).toFixed(0)}%, gateway/node-relay ${((f.gateway.tps / f["node-relay"].tps) * 100).toFixed(0)}%; ` +
          `this process's CPU per transaction: gateway ${perTx("gateway").toFixed(1)} µs, node-relay ${perTx("node-relay").toFixed(1)} µs`,
      );
      const latVerdict = pbAdded <= 0 ? (gwAdded <= 0 ? "PASS" : "MISS (pgbouncer added nothing measurable)") : gwAdded <= 2 * pbAdded ? "PASS" : "MISS";
      const times = pbAdded > 0 ? ` = ${(gwAdded / pbAdded).toFixed(2)}× pgbouncer's` : "";
      console.log(`        added p50: gateway ${signed(gwAdded)}, pgbouncer ${signed(pbAdded)}${times} (target ≤ 2×) → ${latVerdict}`);
      if (detail) {
        for (const name of ["direct", "pgbouncer", "node-relay", "gateway"] as const) {
          const x = f[name];
          console.log(`        ${name.padEnd(10)} avg ${x.avg.toFixed(3)} ms, ${x.transactions} tx (${x.samples} logged, ${x.failed} failed)`);
        }
        console.log(`        audit rows ${auditedRows} for ${txs.get("gateway") ?? 0} timed gateway transactions (+ per-connection setup queries)`);
      }
    }
    console.log(`      note: ${cores} cores shared by the server, pgbench, PgBouncer and the gateway (this process); absolute figures are noisy, compare within a run`);
    if (detail) {
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
