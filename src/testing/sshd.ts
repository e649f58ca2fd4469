/**
 * A throwaway OpenSSH `sshd` for tests and benchmarks: the real server the
 * SSH runtime talks to upstream (ARCHITECTURE §7: no mocks of what we can
 * run).
 *
 * Everything lives in a temp directory — config (`-f`), host key,
 * `authorized_keys`, the client key — and the daemon runs in the
 * foreground (`-D -e`) on a free loopback port, so `stop()` is a kill of
 * one pid and a `rm -r`.
 *
 * Login is key-only for the user running the tests. The suites run as root
 * in CI, so that is root with `PermitRootLogin prohibit-password` — no
 * system user is created and nothing outside the temp dir changes, except
 * `/run/sshd` (sshd's privilege-separation directory, which must exist).
 * `StrictModes no` because the temp dir sits under world-writable /tmp.
 * Test commands must therefore be harmless: the upstream shell is real.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.js";

export const SSHD_PATH = "/usr/sbin/sshd";

export interface TestSshd {
  host: string;
  port: number;
  /** The login user (the current user). */
  user: string;
  /** `ssh-ed25519 AAAA...` of the server's host key (what an `ssh-keyscan` line carries after the host). */
  hostPublicKey: string;
  /** OpenSSH private key text authorized for `user`. */
  clientPrivateKey: string;
  clientPrivateKeyPath: string;
  /** The temp directory (config, keys, log). */
  dir: string;
  /** sshd's stderr so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve()));
  });
}

async function waitForPort(host: string, port: number, deadline: number, child: ChildProcess): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("sshd did not start listening in time");
}

/** Whether sshd and ssh-keygen exist here (for skip-or-fail decisions). */
export function sshdAvailable(): boolean {
  return existsSync(SSHD_PATH) && existsSync("/usr/bin/ssh-keygen");
}

/** Starts sshd; see the module comment. `extraConfig` lines are appended to sshd_config. */
export async function startTestSshd(opts: { extraConfig?: string[] } = {}): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "cp-sshd-"));
  const host = "127.0.0.1";
  const user = userInfo().username;
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "ssh_host_ed25519_key");
  const clientKey = join(dir, "client_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "cp-test-host", "-f", hostKey]);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "cp-test-client", "-f", clientKey]);
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, readFileSync(`${clientKey}.pub`));
  chmodSync(authorized, 0o600);
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `ListenAddress ${host}:${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      "PidFile none",
      "UsePAM no",
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "AuthenticationMethods publickey",
      "AllowTcpForwarding yes",
      "PermitTTY yes",
      "AcceptEnv LANG LC_* CP_*",
      "Subsystem sftp internal-sftp",
      "MaxSessions 50",
      "MaxStartups 100",
      "LogLevel INFO",
      ...(opts.extraConfig ?? []),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const child = spawn(SSHD_PATH, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 256 * 1024) stderr += d.toString();
  });
  child.on("error", (e) => (stderr += `spawn error: ${e.message}\n`));
  try {
    await waitForPort(host, port, Date.now() + 10_000, child);
  } catch (e) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  const pub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/);
  return {
    host,
    port,
    user,
    hostPublicKey: `${pub[0]} ${pub[1]}`,
    clientPrivateKey: readFileSync(clientKey, "utf8"),
    clientPrivateKeyPath: clientKey,
    dir,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
