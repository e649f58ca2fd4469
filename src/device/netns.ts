/**
 * The network namespace `clawpatrol run` puts a command in (Linux, root):
 *
 *   root ns:  wireguard-go  ── UDP ──▶ gateway endpoint (normal host routing)
 *                  │ tun fd
 *   run ns:   lo, <if> = <device address>/32, default route via <if>,
 *             /etc/resolv.conf → nameserver <gateway tunnel address>
 *
 * wireguard-go runs in the root namespace (its UDP socket lives there), its
 * TUN interface is moved into the new namespace — which then has no other
 * interface than loopback, so the tunnel is the command's only way out.
 * (wireguard-go supports its TUN moving across namespaces: it tracks
 * up/down by probing the fd.) `ip netns exec` bind-mounts
 * /etc/netns/<ns>/resolv.conf over /etc/resolv.conf for the command.
 *
 * Names: namespace `cprun-<pid>-<rand>`, interface `cpr<rand>`. A namespace
 * left behind by a run that was SIGKILLed is swept by the next run (its pid
 * is gone).
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { latestHandshake, runCmd, sleep, startWireguardGo, wgSet, type WireguardGo } from "./wg-go.js";

export interface TunnelNsOptions {
  privateKey: string;
  address: string;
  gatewayPublicKey: string;
  endpoint: string;
  /** The gateway's tunnel address (nameserver). */
  dns: string;
  mtu?: number;
}

export interface TunnelNs {
  name: string;
  ifname: string;
  /** Waits (up to `ms`) for the first handshake; false on timeout. */
  waitHandshake(ms: number): Promise<boolean>;
  latestHandshake(): Promise<number>;
  cleanup(): Promise<void>;
  /** Synchronous best-effort cleanup (exit hooks). */
  cleanupSync(): void;
}

const NS_RE = /^cprun-(\d+)-[0-9a-f]+$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Deletes namespaces of runs whose process is gone. Returns their names. */
export function sweepStale(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync("/run/netns");
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const n of names) {
    const m = NS_RE.exec(n);
    if (!m || alive(Number(m[1]))) continue;
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      /* raced */
    }
    rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
    swept.push(n);
  }
  return swept;
}

/**
 * Removes what a tunnel namespace set up, synchronously (it also runs from
 * `process.on("exit")`), ignoring whatever is already gone: the
 * wireguard-go process, the namespace, a host-side link, temp paths.
 */
export function teardownSync(t: { proc?: { kill(sig: NodeJS.Signals): unknown } | undefined; netns: string; link?: string; paths?: string[] }): void {
  const quietly = (f: () => unknown) => {
    try {
      f();
    } catch {
      /* already gone */
    }
  };
  quietly(() => t.proc?.kill("SIGKILL"));
  quietly(() => execFileSync("ip", ["netns", "del", t.netns], { stdio: "ignore" }));
  if (t.link) quietly(() => execFileSync("ip", ["link", "del", t.link!], { stdio: "ignore" }));
  for (const p of t.paths ?? []) rmSync(p, { recursive: true, force: true });
}

export async function createTunnelNs(o: TunnelNsOptions): Promise<TunnelNs> {
  const rand = randomBytes(4).toString("hex");
  const name = `cprun-${process.pid}-${rand}`;
  const ifname = `cpr${rand}`;
  const dir = mkdtempSync(join(tmpdir(), "cprun-"));
  let wg: WireguardGo | undefined;
  let cleaned = false;

  const cleanupSync = (): void => {
    if (cleaned) return;
    cleaned = true;
    teardownSync({ proc: wg?.proc, netns: name, link: ifname, paths: [`/etc/netns/${name}`, dir] });
  };
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    await wg?.stop();
    cleanupSync();
  };

  try {
    await runCmd("ip", ["netns", "add", name]);
    wg = await startWireguardGo(ifname);
    await wgSet(ifname, dir, {
      privateKey: o.privateKey,
      peerPublicKey: o.gatewayPublicKey,
      endpoint: o.endpoint,
      allowedIps: "0.0.0.0/0",
      persistentKeepalive: 25,
    });
    rmSync(join(dir, "private.key"), { force: true }); // wireguard-go has it now
    await runCmd("ip", ["link", "set", ifname, "netns", name]);
    await runCmd("ip", ["-n", name, "link", "set", "lo", "up"]);
    await runCmd("ip", ["-n", name, "addr", "add", `${o.address}/32`, "dev", ifname]);
    await runCmd("ip", ["-n", name, "link", "set", ifname, "mtu", String(o.mtu ?? 1420), "up"]);
    await runCmd("ip", ["-n", name, "route", "add", "default", "dev", ifname]);
    mkdirSync(`/etc/netns/${name}`, { recursive: true, mode: 0o755 });
    writeFileSync(`/etc/netns/${name}/resolv.conf`, `# clawpatrol run: DNS through the tunnel\nnameserver ${o.dns}\noptions edns0 trust-ad\n`, { mode: 0o644 });
  } catch (e) {
    await cleanup();
    throw e;
  }

  const hs = () => latestHandshake(ifname, o.gatewayPublicKey).catch(() => 0);
  return {
    name,
    ifname,
    latestHandshake: hs,
    async waitHandshake(ms) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if ((await hs()) > 0) return true;
        await sleep(50);
      }
      return false;
    },
    cleanup,
    cleanupSync,
  };
}
