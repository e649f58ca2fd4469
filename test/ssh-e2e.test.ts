/**
 * SSH interception end to end (issue 7): real OpenSSH `ssh` / `sftp` →
 * the gateway in process (`startGateway`, a `forward` transport, a temp
 * config dir) → a real `sshd` on a loopback port with key-only login.
 *
 * The agent side never holds the upstream's key: its own throwaway key is
 * not in sshd's authorized_keys (checked directly), the gateway accepts
 * whatever the agent offers and logs in upstream with the `ssh_key`
 * credential from `CLAWPATROL_SECRET_*`.
 *
 * The upstream shell is real (and root in CI), so every command here is
 * harmless: the "destructive" script only names `rm -rf /` inside a path
 * that does not exist, after touching a marker file that proves whether it
 * ran.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { loadOrCreateHostKey } from "../src/gateway/protocols/ssh/hostkey.js";
import { freePort } from "../src/testing/net.js";
import { spawnCapture } from "../src/testing/spawn.js";
import { sshdAvailable, startTestSshd, type TestSshd } from "../src/testing/sshd.js";
import type { NewAction } from "../src/store/actions.js";

const { Client, utils } = ssh2;

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns a real client (never spawnSync: the gateway lives in this process). */
function run(cmd: string, args: string[], opts: { stdinFile?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return spawnCapture(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 15_000 });
}

function missing(): string | false {
  if (sshdAvailable() && existsSync("/usr/bin/ssh") && existsSync("/usr/bin/sftp")) return false;
  if (process.env.CI) throw new Error("sshd, ssh and sftp are required in CI");
  return "OpenSSH (sshd/ssh/sftp) not available";
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const skip = missing();
const NO_HOSTKEY_CHECK = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];

describe("ssh end to end (real ssh/sftp → gateway → real sshd)", { skip }, () => {
  let dir: string;
  let sshd: TestSshd;
  let gw: RunningGateway;
  let port: number;
  let badPinPort: number;
  let echo: Server;
  let echoPort: number;
  let agentKey: string;
  let knownHosts: string;
  const rows: NewAction[] = [];
  const envKeys: string[] = [];

  /** OpenSSH keeps the first value of an option: `first` overrides the defaults below. */
  const sshBase = (p = port, first: string[] = []) => [
    ...first,
    "-F", "/dev/null",
    "-p", String(p),
    "-i", agentKey,
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHosts}`,
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=10",
  ];
  const login = () => `${sshd.user}@127.0.0.1`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-ssh-e2e-"));
    sshd = await startTestSshd();
    echo = createServer((s) => {
      s.on("error", () => {});
      s.pipe(s);
    });
    echo.listen(0, "127.0.0.1");
    await once(echo, "listening");
    echoPort = (echo.address() as { port: number }).port;

    // The agent's own key: NOT in sshd's authorized_keys.
    const pair = utils.generateKeyPairSync("ed25519");
    agentKey = join(dir, "agent_key");
    writeFileSync(agentKey, pair.private, { mode: 0o600 });

    // A pin that does not match sshd's real host key.
    const wrong = utils.generateKeyPairSync("ed25519").public.split(" ").slice(0, 2).join(" ");
    const setEnv = (k: string, v: string) => {
      process.env[k] = v;
      envKeys.push(k);
    };
    setEnv("CLAWPATROL_SECRET_BUILD_KEY", `@${sshd.clientPrivateKeyPath}`);
    setEnv("CLAWPATROL_SECRET_BUILD_KEY_HOST_PUBKEY", `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`);
    setEnv("CLAWPATROL_SECRET_PINNED_KEY", `@${sshd.clientPrivateKeyPath}`);
    setEnv("CLAWPATROL_SECRET_PINNED_KEY_HOST_PUBKEY", `${wrong} stale-pin`);

    port = await freePort();
    badPinPort = await freePort();
    const infoPort = await freePort();
    const cfg = join(dir, "gateway.hcl");
    writeFileSync(
      cfg,
      `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(join(dir, "state"))}
  dashboard_listen = "127.0.0.1:${infoPort}"
  resolve          = { "build.e2e.test" = "127.0.0.1", "pinned.e2e.test" = "127.0.0.1" }
  forward "ssh" {
    listen  = "127.0.0.1:${port}"
    to      = "build.e2e.test:${sshd.port}"
    profile = "default"
  }
  forward "ssh-pinned" {
    listen  = "127.0.0.1:${badPinPort}"
    to      = "pinned.e2e.test:${sshd.port}"
    profile = "default"
  }
}

endpoint "ssh" "build" { hosts = ["build.e2e.test:${sshd.port}"] }
endpoint "ssh" "pinned" { hosts = ["pinned.e2e.test:${sshd.port}"] }

credential "ssh_key" "build_key" { endpoint = ssh.build }
credential "ssh_key" "pinned_key" { endpoint = ssh.pinned }

rule "no-interactive" {
  endpoint  = ssh.build
  condition = "ssh.verb == 'pty'"
  verdict   = "deny"
  reason    = "interactive terminals are not permitted; run a command instead"
}

rule "no-sftp" {
  endpoint  = ssh.build
  condition = "ssh.verb == 'subsystem' && ssh.subsystem == 'sftp'"
  verdict   = "deny"
  reason    = "file transfer is not permitted on the build host"
}

rule "no-db-forward" {
  endpoint  = ssh.build
  condition = "ssh.verb == 'forward' && ssh.forward_port == 5432"
  verdict   = "deny"
  reason    = "no direct database tunnels"
}

rule "no-destructive-stdin" {
  endpoint  = ssh.build
  condition = "ssh.stdin.contains('rm -rf /')"
  verdict   = "deny"
  reason    = "destructive command in piped script"
}

profile "default" { credentials = [ssh_key.build_key, ssh_key.pinned_key] }
`,
    );
    const logLines: string[] = [];
    gw = await startGateway({ configPath: cfg, log: createLogger({ level: "info", pretty: false, write: (l) => void logLines.push(l) }), watch: false });
    gw.subscribeActions((r) => void rows.push(r));
    // The agent pins the gateway's persisted host key for the endpoint.
    const hk = loadOrCreateHostKey(gw.store.settings, "ssh.build");
    knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hk.publicKey}\n`);
    assert.ok(logLines.some((l) => l.includes(hk.fingerprint)), "the host key fingerprint is logged for operators");
    // ... and published on /info, public half only, for pinning.
    const info = (await (await fetch(`http://127.0.0.1:${infoPort}/info`)).json()) as { ssh?: { host_keys: { endpoint: string; fingerprint: string; public_key: string }[] } };
    const published = info.ssh?.host_keys.find((k) => k.endpoint === "ssh.build");
    assert.equal(published?.fingerprint, hk.fingerprint);
    assert.equal(published?.public_key, hk.publicKey);
    assert.ok(!JSON.stringify(info).includes("PRIVATE KEY"), "no private key on /info");
  });

  after(async () => {
    await gw?.close(1000);
    echo?.close();
    await sshd?.stop();
    for (const k of envKeys) delete process.env[k];
    rmSync(dir, { recursive: true, force: true });
  });

  const rowFor = (pred: (r: NewAction) => boolean) => waitFor("audit row", () => rows.find(pred));
  const facets = (r: NewAction) => (r.facets?.["ssh"] ?? {}) as Record<string, unknown>;

  it("the agent's own key cannot log in to sshd directly (it holds no upstream key)", async () => {
    const r = await run("ssh", [...sshBase(sshd.port, NO_HOSTKEY_CHECK), login(), "true"]);
    assert.equal(r.status, 255, r.stderr);
    assert.match(r.stderr, /Permission denied/);
  });

  it("ssh host uname -a is allowed, runs upstream and is audited", async () => {
    const [r, local] = await Promise.all([run("ssh", [...sshBase(), login(), "uname", "-a"]), run("uname", ["-a"])]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, local.stdout);
    const row = await rowFor((x) => facets(x)["command"] === "uname -a");
    assert.equal(row.verdict, "allow");
    assert.equal(row.endpoint, "ssh.build");
    assert.equal(row.credential, "build_key");
    assert.equal(row.status, 0);
    assert.equal(row.bytesOut, Buffer.byteLength(local.stdout));
    assert.equal(row.device, "forward:ssh");
    assert.equal(facets(row)["user"], sshd.user);
  });

  it("ssh -tt host is denied with the reason; the same connection still runs commands", async () => {
    const r = await run("ssh", [...sshBase(), "-tt", login()]);
    assert.equal(r.status, 126, r.stderr);
    assert.match(r.stderr, /interactive terminals are not permitted; run a command instead/);
    const row = await rowFor((x) => facets(x)["verb"] === "pty");
    assert.equal(row.verdict, "deny");
    assert.equal(row.rule, "no-interactive");

    // One connection: the pty session is refused, a later exec on it works.
    const c = new Client();
    c.on("error", () => {});
    c.connect({ host: "127.0.0.1", port, username: sshd.user, hostVerifier: () => true, readyTimeout: 10_000 });
    await once(c, "ready");
    const refused = await new Promise<{ code: unknown; stderr: string }>((resolve, reject) => {
      c.shell({ term: "xterm", rows: 24, cols: 80 }, (err, ch) => {
        if (err) return reject(err);
        let stderr = "";
        let code: unknown;
        ch.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        ch.on("data", () => {});
        ch.on("exit", (x: unknown) => (code = x));
        ch.on("close", () => resolve({ code, stderr }));
      });
    });
    assert.equal(refused.code, 126);
    assert.match(refused.stderr, /terminal \(pty\) denied: interactive terminals/);
    const out = await new Promise<string>((resolve, reject) => {
      c.exec("echo still-up", (err, ch) => {
        if (err) return reject(err);
        // EOF on stdin at once: the endpoint pre-gates stdin, and a stdin that
        // never ends is "truncated", which the stdin rule turns into a deny.
        ch.end();
        let s = "";
        ch.on("data", (d: Buffer) => (s += d.toString()));
        ch.stderr.resume();
        ch.on("close", () => resolve(s));
      });
    });
    assert.equal(out, "still-up\n");
    c.end();
  });

  it("sftp is denied with the reason", async () => {
    const batch = join(dir, "sftp-batch");
    writeFileSync(batch, "ls /\n");
    const r = await run("sftp", ["-F", "/dev/null", "-P", String(port), "-i", agentKey, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-b", batch, login()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /file transfer is not permitted on the build host/);
    const row = await rowFor((x) => facets(x)["subsystem"] === "sftp");
    assert.equal(row.verdict, "deny");
    assert.equal(row.rule, "no-sftp");
  });

  it("ssh -L to port 5432 is denied while another forward on the same connection works", async () => {
    const l1 = await freePort();
    const l2 = await freePort();
    // OpenSSH prints open failures at INFO (its default level).
    const child = spawn("ssh", [...sshBase(port, ["-o", "LogLevel=INFO"]), "-N", "-L", `${l1}:127.0.0.1:5432`, "-L", `${l2}:127.0.0.1:${echoPort}`, login()], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      const roundTrip = (p: number) =>
        new Promise<string | Error>((resolve) => {
          const s = connect({ host: "127.0.0.1", port: p });
          let got = "";
          const t = setTimeout(() => (s.destroy(), resolve(got)), 3000);
          s.on("error", (e) => (clearTimeout(t), resolve(e)));
          s.on("connect", () => s.write("ping-through-forward"));
          s.on("data", (d: Buffer) => {
            got += d.toString();
            if (got === "ping-through-forward") {
              clearTimeout(t);
              s.end();
              resolve(got);
            }
          });
          s.on("close", () => (clearTimeout(t), resolve(got)));
        });
      // The listeners appear once ssh has logged in.
      const deadline = Date.now() + 10_000;
      let ok: string | Error = "";
      while (Date.now() < deadline) {
        ok = await roundTrip(l2);
        if (ok === "ping-through-forward") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ok, "ping-through-forward", stderr);
      const denied = await roundTrip(l1);
      assert.equal(denied instanceof Error ? "" : denied, "", "nothing comes back through the denied forward");
      await waitFor("ssh's open-failure message", () => (/administratively prohibited: denied: no direct database tunnels/.test(stderr) ? true : undefined)).catch((e: Error) => {
        throw new Error(`${e.message}; ssh said: ${stderr}`);
      });
      // Still up: the allowed forward works after the denial.
      assert.equal(await roundTrip(l2), "ping-through-forward");
      const row = await rowFor((x) => facets(x)["forward_port"] === 5432);
      assert.equal(row.verdict, "deny");
      assert.equal(row.rule, "no-db-forward");
      const okRow = await rowFor((x) => facets(x)["forward_port"] === echoPort);
      assert.equal(okRow.verdict, "allow");
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("ssh host < script.sh containing rm -rf / is denied and the script never runs upstream", async () => {
    const tag = `${process.pid}-${Date.now()}`;
    const marker = join(tmpdir(), `cp-ssh-marker-denied-${tag}`);
    const script = join(dir, "evil.sh");
    writeFileSync(script, `touch ${marker}\nrm -rf /tmp/cp-ssh-does-not-exist-${tag}/x\n`);
    const r = await run("ssh", [...sshBase(), login()], { stdinFile: script });
    assert.equal(r.status, 126, r.stderr);
    assert.match(r.stderr, /destructive command in piped script/);
    const row = await rowFor((x) => x.rule === "no-destructive-stdin" && facets(x)["verb"] === "shell");
    assert.equal(row.verdict, "deny");
    assert.equal(facets(row)["verb"], "shell");
    assert.ok(row.flags?.includes("stdin_pregated"));
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(existsSync(marker), false, "the denied script must never have run");

    // Control: a harmless script through the same pre-gate runs, stdin intact.
    const okMarker = join(tmpdir(), `cp-ssh-marker-allowed-${tag}`);
    const good = join(dir, "good.sh");
    writeFileSync(good, `touch ${okMarker}\necho ran-ok\n`);
    const ok = await run("ssh", [...sshBase(), login()], { stdinFile: good });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "ran-ok\n");
    assert.equal(existsSync(okMarker), true);
    rmSync(okMarker, { force: true });
  });

  it("an upstream host key other than the pinned one is refused and the reason audited", async () => {
    const r = await run("ssh", [...sshBase(badPinPort, NO_HOSTKEY_CHECK), login(), "true"]);
    assert.equal(r.status, 126, r.stderr);
    assert.match(r.stderr, /not the pinned SHA256:/);
    const row = await rowFor((x) => x.endpoint === "ssh.pinned");
    assert.equal(row.verdict, "error");
    assert.match(row.reason ?? "", /presented host key SHA256:\S+, not the pinned SHA256:\S+; refused/);
    assert.ok(row.flags?.includes("hostkey_mismatch"));
  });

  it("no secret reaches the audit log", () => {
    const all = JSON.stringify(rows);
    assert.ok(!all.includes("PRIVATE KEY"));
    assert.ok(!all.includes(sshd.clientPrivateKey.split("\n")[1]!));
  });
});
