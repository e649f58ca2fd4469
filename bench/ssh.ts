/**
 * SSH interception benchmark (`npm run bench`): what the gateway adds to
 * real OpenSSH traffic, against a direct connection to the same `sshd`,
 * measured in the same run on the same machine.
 *
 * Setup, all on 127.0.0.1: a throwaway OpenSSH `sshd` (src/testing/sshd.ts,
 * key-only login) and the assembled gateway (`startGateway`) with a
 * `forward` listener, one `ssh` endpoint, an `ssh_key` credential from
 * `CLAWPATROL_SECRET_*` with the upstream host key pinned, and an allow
 * rule for exec — so every measured action goes through the decision, the
 * upstream login with the injected key and an audit write. No `ssh.stdin`
 * rule: the stdin pre-gate is off (it would add its own buffering).
 *
 * Measured, with the real `ssh` / `scp` binaries as clients (spawned
 * asynchronously; the gateway runs on this process's event loop):
 * - exec round trip on an existing connection: OpenSSH connection
 *   multiplexing (`ControlMaster`), N × `ssh host true` over one master —
 *   the per-command cost an agent pays once connected (each run still
 *   includes spawning the `ssh` mux client, identical on both paths);
 * - new connection + exec: N × `ssh host true`, each a fresh SSH
 *   connection (through the gateway that is two handshakes and an upstream
 *   login);
 * - `scp` throughput: one 64 MiB file upload (OpenSSH 9's scp speaks SFTP).
 * Reported as medians (latency) / MiB/s, with gateway ÷ direct ratios.
 * Both paths use curve25519-sha256 key exchange (see `base` below).
 */
import { percentile } from "./stats.js";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { freePort } from "../src/testing/net.js";
import { sshdAvailable, startTestSshd } from "../src/testing/sshd.js";

const EXECS = 30;
const CONNECTS = 15;
const SCP_MIB = 64;

function run(cmd: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    c.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("error", (e) => (stderr += e.message));
    c.on("close", (status) => resolve({ status, stderr }));
  });
}

async function timed(cmd: string, args: string[]): Promise<number> {
  const t = performance.now();
  const r = await run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return performance.now() - t;
}

const median = (xs: number[]) => percentile(xs, 50);
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Runs the benchmark and prints its figures; `detail` adds min/max per case. */
export async function runSshBench(detail: boolean): Promise<void> {
  console.log("\n== ssh: OpenSSH client → gateway → sshd vs direct ==");
  if (!sshdAvailable()) {
    console.log("skipped: /usr/sbin/sshd not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "cp-ssh-bench-"));
  const sshd = await startTestSshd();
  const env = ["CLAWPATROL_SECRET_BENCH_SSH", "CLAWPATROL_SECRET_BENCH_SSH_HOST_PUBKEY"];
  process.env[env[0]!] = `@${sshd.clientPrivateKeyPath}`;
  process.env[env[1]!] = sshd.hostPublicKey;
  const port = await freePort();
  const cfg = join(dir, "gateway.hcl");
  writeFileSync(
    cfg,
    `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(join(dir, "state"))}
  dashboard_listen = "127.0.0.1:${await freePort()}"
  resolve          = { "bench.ssh.test" = "127.0.0.1" }
  forward "ssh" {
    listen  = "127.0.0.1:${port}"
    to      = "bench.ssh.test:${sshd.port}"
    profile = "bench"
  }
}
endpoint "ssh" "bench" { hosts = ["bench.ssh.test:${sshd.port}"] }
credential "ssh_key" "bench_ssh" { endpoint = ssh.bench }
rule "exec" {
  endpoint  = ssh.bench
  condition = "ssh.verb == 'exec'"
  verdict   = "allow"
}
profile "bench" { credentials = [ssh_key.bench_ssh] }
`,
  );
  const gw = await startGateway({ configPath: cfg, log: createLogger({ level: "error" }), watch: false });
  // The agent's key is a throwaway: only the gateway can log in upstream.
  const agentKey = join(dir, "agent_key");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", agentKey]);
  const payload = join(dir, "payload.bin");
  writeFileSync(payload, randomBytes(SCP_MIB * 1024 * 1024));

  const paths = [
    { name: "direct", port: sshd.port, key: sshd.clientPrivateKeyPath },
    { name: "gateway", port, key: agentKey },
  ];
  const base = (p: { port: number; key: string }) => [
    "-F", "/dev/null", "-i", p.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    // Same key exchange on both paths: OpenSSH 9 otherwise prefers the post-quantum
    // sntrup761 hybrid with sshd (ssh2 does not offer it), which alone makes
    // a direct handshake slower than the gateway's.
    "-o", "KexAlgorithms=curve25519-sha256",
  ];
  const target = `${sshd.user}@127.0.0.1`;
  const results: Record<string, { exec: number[]; connect: number[]; scpMiBs: number }> = {};
  try {
    for (const p of paths) {
      const control = join(dir, `mux-${p.name}`);
      const mux = ["-o", "ControlMaster=auto", "-o", `ControlPath=${control}`, "-o", "ControlPersist=60"];
      await timed("ssh", [...base(p), ...mux, "-p", String(p.port), target, "true"]); // opens the master
      const exec: number[] = [];
      for (let i = 0; i < EXECS; i++) exec.push(await timed("ssh", [...base(p), ...mux, "-p", String(p.port), target, "true"]));
      await run("ssh", [...base(p), ...mux, "-O", "exit", "-p", String(p.port), target]);
      const connect: number[] = [];
      for (let i = 0; i < CONNECTS; i++) connect.push(await timed("ssh", [...base(p), "-p", String(p.port), target, "true"]));
      const dest = join(dir, `upload-${p.name}.bin`);
      const scpMs = await timed("scp", [...base(p), "-q", "-P", String(p.port), payload, `${target}:${dest}`]);
      if (statSync(dest).size !== SCP_MIB * 1024 * 1024) throw new Error(`scp via ${p.name} wrote a short file`);
      rmSync(dest, { force: true });
      results[p.name] = { exec, connect, scpMiBs: SCP_MIB / (scpMs / 1000) };
    }
    const d = results["direct"]!;
    const g = results["gateway"]!;
    console.log(`machine: ${availableParallelism()} cores shared by client, gateway and sshd`);
    console.log(`exec on an open connection (mux, median of ${EXECS}): direct ${ms(median(d.exec))}, gateway ${ms(median(g.exec))} — +${ms(median(g.exec) - median(d.exec))}, ratio ${(median(g.exec) / median(d.exec)).toFixed(2)}×`);
    console.log(`new connection + exec (median of ${CONNECTS}): direct ${ms(median(d.connect))}, gateway ${ms(median(g.connect))} — +${ms(median(g.connect) - median(d.connect))}, ratio ${(median(g.connect) / median(d.connect)).toFixed(2)}×`);
    console.log(`scp ${SCP_MIB} MiB upload: direct ${d.scpMiBs.toFixed(1)} MiB/s, gateway ${g.scpMiBs.toFixed(1)} MiB/s — ratio ${(g.scpMiBs / d.scpMiBs).toFixed(2)}×`);
    if (detail) {
      for (const [name, r] of Object.entries(results)) {
        console.log(`  ${name}: exec min ${ms(Math.min(...r.exec))} max ${ms(Math.max(...r.exec))}; connect min ${ms(Math.min(...r.connect))} max ${ms(Math.max(...r.connect))}`);
      }
    }
    gw.flushAudit();
    const audited = gw.store.actions.list({ limit: 500 }).rows.filter((r) => r.verdict === "allow").length;
    console.log(`audited: ${audited} allowed ssh actions through the gateway`);
  } finally {
    await gw.close(1000);
    await sshd.stop();
    for (const k of env) delete process.env[k];
    rmSync(dir, { recursive: true, force: true });
  }
}
