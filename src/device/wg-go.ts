/**
 * Shared plumbing for running `wireguard-go` as a client (used by
 * `clawpatrol run` and by the interop test helper src/testing/wg-netns.ts):
 * command runner, prerequisite checks, starting wireguard-go in the
 * foreground and waiting for its interface, `wg set` with key files.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs a command; rejects with its stderr in the message. */
export async function runCmd(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ stdout: string; stderr: string }> {
  try {
    const r = await execFileP(cmd, args, { timeout: timeoutMs, encoding: "utf8" });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`);
  }
}

export function have(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why wireguard-go client namespaces cannot be built here, or null when they can. */
export function wgClientUnavailable(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root (clawpatrol run needs root: use sudo)";
  for (const c of ["ip", "wg", "wireguard-go"]) if (!have(c)) return `${c} not installed`;
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun missing";
  return null;
}

export interface WireguardGo {
  proc: ChildProcess;
  /** Stops it (SIGTERM, SIGKILL after 2 s). */
  stop(): Promise<void>;
}

/**
 * Starts `wireguard-go -f <ifname>` (foreground, so it stays our child),
 * optionally inside `netns`, and waits until the interface exists there.
 */
export async function startWireguardGo(ifname: string, netns?: string, timeoutMs = 5000): Promise<WireguardGo> {
  const cmd = netns ? "ip" : "wireguard-go";
  const args = netns ? ["netns", "exec", netns, "wireguard-go", "-f", ifname] : ["-f", ifname];
  const proc = spawn(cmd, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" },
  });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  proc.on("error", (e) => (stderr += e.message));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    await Promise.race([exited, sleep(2000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await runCmd("ip", [...(netns ? ["-n", netns] : []), "link", "show", ifname]).then(
      () => true,
      () => false,
    );
    if (ok) return { proc, stop };
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`wireguard-go did not create ${ifname}: ${stderr.trim() || "timeout"}`);
    }
    await sleep(50);
  }
}

export interface WgPeerSettings {
  privateKey: string;
  peerPublicKey: string;
  endpoint: string;
  allowedIps?: string;
  presharedKey?: string;
  persistentKeepalive?: number;
  listenPort?: number;
}

/** `wg set <ifname> ...` with the keys in 0600 files under `dir` (optionally inside `netns`). */
export async function wgSet(ifname: string, dir: string, s: WgPeerSettings, netns?: string): Promise<void> {
  const keyFile = join(dir, "private.key");
  writeFileSync(keyFile, s.privateKey + "\n", { mode: 0o600 });
  const args = ["set", ifname, "private-key", keyFile];
  if (s.listenPort) args.push("listen-port", String(s.listenPort));
  args.push("peer", s.peerPublicKey);
  if (s.presharedKey) {
    const pskFile = join(dir, "psk.key");
    writeFileSync(pskFile, s.presharedKey + "\n", { mode: 0o600 });
    args.push("preshared-key", pskFile);
  }
  args.push("endpoint", s.endpoint, "allowed-ips", s.allowedIps ?? "0.0.0.0/0");
  if (s.persistentKeepalive && s.persistentKeepalive > 0) args.push("persistent-keepalive", String(s.persistentKeepalive));
  await runCmd(netns ? "ip" : "wg", netns ? ["netns", "exec", netns, "wg", ...args] : args);
}

/** `wg show <ifname> latest-handshakes` for `peer` → unix seconds (0: none yet). */
export async function latestHandshake(ifname: string, peer: string, netns?: string): Promise<number> {
  const args = ["show", ifname, "latest-handshakes"];
  const { stdout } = await runCmd(netns ? "ip" : "wg", netns ? ["netns", "exec", netns, "wg", ...args] : args);
  const line = stdout.trim().split("\n").find((l) => l.startsWith(peer));
  return line ? Number(line.split(/\s+/)[1] ?? 0) : 0;
}
