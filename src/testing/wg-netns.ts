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
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { have, latestHandshake, runCmd as run, sleep, startWireguardGo, wgSet, type WireguardGo } from "../device/wg-go.js";
import { teardownSync } from "../device/netns.js";

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

async function freeSubnet(): Promise<{ a: number; b: number }> {
  const { stdout } = await run("ip", ["-4", "-o", "addr", "show"]);
  for (let tries = 0; tries < 200; tries++) {
    const a = Math.floor(Math.random() * 250) + 1;
    const b = Math.floor(Math.random() * 63) * 4;
    if (!stdout.includes(`10.200.${a}.${b + 1}/`)) return { a, b };
  }
  throw new Error("no free 10.200.x.y/30 subnet");
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
  let wg: WireguardGo | null = null;
  let cleaned = false;

  const syncCleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    teardownSync({ proc: wg?.proc, netns: ns, link: vethHost, paths: [dir] });
  };
  hookExit();
  live.add(syncCleanup);

  const nsExec = (cmd: string, args: string[], timeoutMs?: number) => run("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    await wg?.stop();
    cleaned = true;
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
    wg = await startWireguardGo("wg0", ns);
    await wgSet(
      "wg0",
      dir,
      {
        privateKey: opts.privateKey,
        peerPublicKey: opts.peerPublicKey,
        endpoint: `${hostAddress}:${opts.peerPort}`,
        allowedIps: opts.allowedIps ?? "0.0.0.0/0",
        persistentKeepalive: opts.persistentKeepalive ?? 1,
        ...(opts.presharedKey ? { presharedKey: opts.presharedKey } : {}),
        ...(opts.listenPort ? { listenPort: opts.listenPort } : {}),
      },
      ns,
    );
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
    latestHandshake: () => latestHandshake("wg0", opts.peerPublicKey, ns),
    cleanup,
  };
}
