/**
 * A throwaway network namespace with `wireguard-go` as a plain WireGuard
 * client, for interop tests against the userspace device:
 *
 *   root ns  veth A 10.200.X.(4k+1)/30  <──>  veth B 10.200.X.(4k+2)/30  ns
 *                                             wg0 <tunnel ip>/32, default route via wg0
 *
 * The WireGuard endpoint (the gateway, in the test process) is reached over
 * the veth /30, which stays a connected route; everything else in the
 * namespace goes through wg0. {@link WgNetns.cleanup} kills wireguard-go,
 * deletes the namespace (which removes the veth pair) and temp files; an
 * exit hook does the same if a test dies before cleanup.
 *
 * Requires root, `ip`, `wg`, `wireguard-go` and /dev/net/tun.
 * {@link wgNetnsUnavailable} says why not; under `CI` tests must fail
 * instead of skipping.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface WgNetnsOptions {
  /** Gateway public key, base64. */
  peerPublicKey: string;
  /** Gateway UDP port (listening in the root namespace, on the veth address or 0.0.0.0). */
  peerPort: number;
  /** Client private key, base64 (`wg genkey`). */
  privateKey: string;
  presharedKey?: string;
  /** Client tunnel address, e.g. "10.77.0.2". */
  tunnelIp: string;
  /** allowed-ips on the client for the gateway peer. Default 0.0.0.0/0. */
  allowedIps?: string;
  /** Seconds; default 1 so the handshake starts at once. 0 = off. */
  persistentKeepalive?: number;
  /** wireguard-go's UDP port inside the namespace (for gateway-initiated handshakes). */
  listenPort?: number;
}

export interface WgNetns {
  readonly name: string;
  /** Root-namespace side of the veth pair: the address the gateway listens on. */
  readonly hostAddress: string;
  /** Namespace side of the veth pair. */
  readonly nsAddress: string;
  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<{ stdout: string; stderr: string }>;
  /** Spawns a long-running command inside the namespace. */
  spawn(cmd: string, args: string[]): ChildProcess;
  /** `wg show wg0 latest-handshakes` → unix seconds (0 = none yet). */
  latestHandshake(): Promise<number>;
  cleanup(): Promise<void>;
}

function have(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why a wg netns cannot be built here, or null when it can. */
export function wgNetnsUnavailable(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root";
  for (const c of ["ip", "wg", "wireguard-go"]) if (!have(c)) return `${c} not installed`;
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun missing";
  return null;
}

let counter = 0;
const live = new Set<() => void>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const f of live) f();
  });
}

async function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ stdout: string; stderr: string }> {
  try {
    const r = await execFileP(cmd, args, { timeout: timeoutMs, encoding: "utf8" });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`);
  }
}

async function freeSubnet(): Promise<{ a: number; b: number }> {
  const { stdout } = await run("ip", ["-4", "-o", "addr", "show"]);
  for (let tries = 0; tries < 200; tries++) {
    const a = Math.floor(Math.random() * 250) + 1;
    const b = Math.floor(Math.random() * 63) * 4;
    if (!stdout.includes(`10.200.${a}.${b + 1}/`)) return { a, b };
  }
  throw new Error("no free 10.200.x.y/30 subnet");
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export async function createWgNetns(opts: WgNetnsOptions): Promise<WgNetns> {
  const id = `${process.pid.toString(36)}${(counter++).toString(36)}`.slice(-8);
  const ns = `cpwg-${id}`;
  const vethHost = `cpwh${id}`.slice(0, 15);
  const vethNs = `cpwn${id}`.slice(0, 15);
  const { a, b } = await freeSubnet();
  const hostAddress = `10.200.${a}.${b + 1}`;
  const nsAddress = `10.200.${a}.${b + 2}`;
  const dir = mkdtempSync(join(tmpdir(), "cpwg-"));
  let wgProc: ChildProcess | null = null;
  let cleaned = false;

  const syncCleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    try {
      wgProc?.kill("SIGKILL");
    } catch {
      /* gone */
    }
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
      /* not there */
    }
    try {
      execFileSync("ip", ["link", "del", vethHost], { stdio: "ignore" });
    } catch {
      /* removed with the namespace */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  hookExit();
  live.add(syncCleanup);

  const nsExec = (cmd: string, args: string[], timeoutMs?: number) => run("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    if (wgProc && wgProc.exitCode === null && wgProc.signalCode === null) {
      const p = wgProc;
      const exited = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      await Promise.race([exited, sleep(2000)]);
    }
    cleaned = true;
    try {
      wgProc?.kill("SIGKILL");
    } catch {
      /* gone */
    }
    await run("ip", ["netns", "del", ns]).catch(() => {});
    await run("ip", ["link", "del", vethHost]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    live.delete(syncCleanup);
  };

  try {
    await run("ip", ["netns", "add", ns]);
    await run("ip", ["link", "add", vethHost, "type", "veth", "peer", "name", vethNs]);
    await run("ip", ["link", "set", vethNs, "netns", ns]);
    await run("ip", ["addr", "add", `${hostAddress}/30`, "dev", vethHost]);
    await run("ip", ["link", "set", vethHost, "up"]);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    await run("ip", ["-n", ns, "addr", "add", `${nsAddress}/30`, "dev", vethNs]);
    await run("ip", ["-n", ns, "link", "set", vethNs, "up"]);

    // wireguard-go in the foreground so it stays our child and dies with cleanup().
    wgProc = spawn("ip", ["netns", "exec", ns, "wireguard-go", "-f", "wg0"], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "error" },
    });
    let wgErr = "";
    wgProc.stderr?.on("data", (d: Buffer) => {
      if (wgErr.length < 4096) wgErr += d.toString();
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      const ok = await run("ip", ["-n", ns, "link", "show", "wg0"]).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (wgProc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`wireguard-go did not create wg0: ${wgErr.trim() || "timeout"}`);
      }
      await sleep(50);
    }

    const keyFile = join(dir, "private.key");
    writeFileSync(keyFile, opts.privateKey + "\n", { mode: 0o600 });
    const wgArgs = ["set", "wg0", "private-key", keyFile];
    if (opts.listenPort) wgArgs.push("listen-port", String(opts.listenPort));
    wgArgs.push("peer", opts.peerPublicKey);
    if (opts.presharedKey) {
      const pskFile = join(dir, "psk.key");
      writeFileSync(pskFile, opts.presharedKey + "\n", { mode: 0o600 });
      wgArgs.push("preshared-key", pskFile);
    }
    wgArgs.push("endpoint", `${hostAddress}:${opts.peerPort}`, "allowed-ips", opts.allowedIps ?? "0.0.0.0/0");
    const ka = opts.persistentKeepalive ?? 1;
    if (ka > 0) wgArgs.push("persistent-keepalive", String(ka));
    await nsExec("wg", wgArgs);
    await run("ip", ["-n", ns, "addr", "add", `${opts.tunnelIp}/32`, "dev", "wg0"]);
    await run("ip", ["-n", ns, "link", "set", "wg0", "mtu", "1420", "up"]);
    // Default route through the tunnel; the veth /30 stays a more specific connected route.
    await run("ip", ["-n", ns, "route", "add", "default", "dev", "wg0"]);
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    name: ns,
    hostAddress,
    nsAddress,
    exec: (cmd, args, o) => {
      if (o?.input !== undefined) {
        return new Promise((resolve, reject) => {
          const c = execFile("ip", ["netns", "exec", ns, cmd, ...args], { timeout: o.timeoutMs ?? 10_000 }, (err, stdout, stderr) =>
            err ? reject(new Error(`${cmd} failed: ${stderr || err.message}`)) : resolve({ stdout, stderr }),
          );
          c.stdin?.end(o.input);
        });
      }
      return nsExec(cmd, args, o?.timeoutMs);
    },
    spawn: (cmd, args) => spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["pipe", "pipe", "pipe"] }),
    latestHandshake: async () => {
      const { stdout } = await nsExec("wg", ["show", "wg0", "latest-handshakes"]);
      const line = stdout.trim().split("\n").find((l) => l.startsWith(opts.peerPublicKey));
      return line ? Number(line.split(/\s+/)[1] ?? 0) : 0;
    },
    cleanup,
  };
}
