/**
 * Shared setup for the WireGuard end-to-end suites and bench/wireguard.ts:
 *
 * - {@link cli}: the real `clawpatrol` CLI as a child process;
 * - {@link startWgGateway}: a gateway in this process with
 *   `gateway { wireguard {} }` (config body supplied by the caller) and an
 *   admin API token;
 * - {@link enrollDevice}: `clawpatrol join` as a child, approved through the
 *   management API with a profile;
 * - {@link openTunnel}: the same namespace `clawpatrol run` builds
 *   (src/device/netns.ts: wireguard-go in the root namespace, its TUN moved
 *   into a fresh namespace) for an enrolled device, kept open so several
 *   commands can run in it (`tunnel.exec`) — what `clawpatrol run` does per
 *   command, minus the env pushdown;
 * - {@link impairedUdpRelay}: an in-process UDP relay between wireguard-go
 *   and the gateway that drops / reorders WireGuard datagrams (= tunneled IP
 *   packets), for kernels without `sch_netem`;
 * - {@link netemUnavailable}, {@link hostAddress}, {@link gcNow}.
 */
import assert from "node:assert/strict";
import { execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo } from "node:dgram";
import { readdirSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { adminToken } from "../src/testing/admin-token.js";
import { freePort } from "../src/testing/net.js";
import { spawnCapture } from "../src/testing/spawn.js";
import { createTunnelNs, type TunnelNs } from "../src/device/netns.js";
import { requireActive } from "../src/device/state.js";
import { have, wgClientUnavailable } from "../src/device/wg-go.js";

export const BIN = fileURLToPath(new URL("../../bin/clawpatrol", import.meta.url));

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `clawpatrol <args>` as a child process (SIGKILLed after `timeoutMs`, default 40 s). */
export async function cli(args: string[], opts: { timeoutMs?: number; onStart?: (c: ChildProcess) => void; onStdout?: (s: string) => void } = {}): Promise<Ran> {
  let all = "";
  const r = await spawnCapture(process.execPath, [BIN, ...args], {
    timeoutMs: opts.timeoutMs ?? 40_000,
    ...(opts.onStart ? { onSpawn: opts.onStart } : {}),
    // Callers watch for a line in everything printed so far (the enrollment code).
    onStdout: (chunk) => opts.onStdout?.((all += chunk)),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** This host's first non-loopback IPv4 address: reachable from outside a namespace only through the tunnel. */
export function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

/** `clawpatrol run` namespaces of the run with this pid. */
export const ourNamespaces = (pid: number): string[] => {
  try {
    return readdirSync("/run/netns").filter((n) => n.startsWith(`cprun-${pid}-`));
  } catch {
    return [];
  }
};

/** Why the WireGuard end-to-end machinery cannot run here (plus `commands`), or null. */
export function wgE2eUnavailable(commands: string[] = []): string | null {
  const why = wgClientUnavailable();
  if (why) return why;
  for (const c of commands) if (!have(c)) return `${c} not installed`;
  return null;
}

/** Why `tc qdisc add ... netem` does not work in a namespace here, or null when it does. */
export function netemUnavailable(): string | null {
  if (!have("tc")) return "tc not installed";
  const ns = `cpnetem-${process.pid}-${randomBytes(3).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", ns], { stdio: "ignore" });
    execFileSync("ip", ["-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"], { stdio: "ignore" });
    execFileSync("ip", ["netns", "exec", ns, "tc", "qdisc", "add", "dev", "v0", "root", "netem", "loss", "1%"], { stdio: "pipe" });
    return null;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return `tc netem: ${err.stderr?.toString().trim() || err.message}`;
  } finally {
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
      /* not created */
    }
  }
}

/** A full garbage collection (`--expose-gc` is switched on at run time when node was started without it). */
export function gcNow(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
  gc();
}

export interface WgGateway {
  gw: RunningGateway;
  /** `http://127.0.0.1:<dashboard port>` */
  base: string;
  /** An admin API token. */
  token: string;
  wgPort: number;
  logs: string[];
  close(): Promise<void>;
}

/**
 * Starts a gateway in this process: `gateway { state_dir, dashboard_listen,
 * <gatewayExtra>, wireguard { subnet 10.77.0.0/24, endpoint 127.0.0.1 } }`
 * followed by `body` (endpoints, credentials, profiles).
 */
export async function startWgGateway(o: { dir: string; body: string; gatewayExtra?: string; logLevel?: "debug" | "info" | "warn" }): Promise<WgGateway> {
  const [port, wgPort] = [await freePort(), await freePort()];
  const cfg = join(o.dir, "gw.hcl");
  writeFileSync(
    cfg,
    `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(join(o.dir, "state"))}
  dashboard_listen = "127.0.0.1:${port}"
${o.gatewayExtra ?? ""}
  wireguard {
    subnet_cidr = "10.77.0.0/24"
    listen_port = ${wgPort}
    endpoint    = "127.0.0.1:${wgPort}"
  }
}
${o.body}`,
  );
  const logs: string[] = [];
  const gw = await startGateway({ configPath: cfg, watch: false, log: createLogger({ level: o.logLevel ?? "debug", pretty: false, write: (l) => void logs.push(l) }) }).catch((e: Error) => {
    throw new Error(`${e.message}\n${logs.slice(-10).join("\n")}`);
  });
  return { gw, base: `http://127.0.0.1:${port}`, token: adminToken(gw.store), wgPort, logs, close: () => gw.close(1000) };
}

/**
 * `clawpatrol join <base>` as a child with its state in `configDir`,
 * approved through the management API with `profile` as soon as it prints
 * its code. Resolves with the device id once join has exited 0.
 */
export async function enrollDevice(o: { base: string; token: string; configDir: string; name: string; profile: string; caFingerprint?: string }): Promise<{ dir: string; id: string }> {
  let approved = false;
  let approval: Promise<string> | undefined;
  const joined = cli(["join", o.base, "--name", o.name, "--config-dir", o.configDir, "--poll-ms", "100", "--timeout", "30"], {
    onStdout: (out) => {
      const code = /enrollment code:\s+(\S+)/.exec(out)?.[1];
      if (!code || approved) return;
      approved = true;
      approval = (async () => {
        const r = await fetch(`${o.base}/api/devices?code=${code}`, { headers: { authorization: `Bearer ${o.token}` } });
        const [dev] = (await r.json()) as { id: string }[];
        const a = await fetch(`${o.base}/api/devices/${dev!.id}/approve`, {
          method: "POST",
          headers: { authorization: `Bearer ${o.token}`, "content-type": "application/json" },
          body: JSON.stringify({ profile: o.profile }),
        });
        assert.equal(a.status, 200);
        return dev!.id;
      })();
      approval.catch(() => {}); // awaited below
    },
  });
  const r = await joined;
  assert.equal(r.code, 0, `join failed: ${r.stdout}${r.stderr}`);
  if (o.caFingerprint) assert.match(r.stdout, new RegExp(`CA fingerprint:\\s+${o.caFingerprint}`));
  assert.ok(approval, "join printed no enrollment code");
  return { dir: o.configDir, id: await approval };
}

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Tunnel {
  ns: TunnelNs;
  /** Runs a command inside the namespace (asynchronously); SIGKILLed after `timeoutMs` (default 60 s). */
  exec(cmd: string, args: string[], o?: { timeoutMs?: number; onStart?: (c: ChildProcess) => void; onStdout?: (s: string) => void; env?: NodeJS.ProcessEnv }): Promise<Exec>;
  close(): Promise<void>;
}

/**
 * The namespace `clawpatrol run` would build for the device enrolled in
 * `deviceDir` (src/device/netns.ts), kept open. `endpoint` overrides the
 * device's WireGuard endpoint (e.g. an {@link impairedUdpRelay}).
 */
export async function openTunnel(deviceDir: string, o: { endpoint?: string; handshakeMs?: number } = {}): Promise<Tunnel> {
  const s = requireActive(deviceDir);
  const ns = await createTunnelNs({ privateKey: s.privateKey, address: s.address, gatewayPublicKey: s.gatewayPublicKey, endpoint: o.endpoint ?? s.endpoint, dns: s.gatewayAddress });
  const onExit = () => ns.cleanupSync();
  process.on("exit", onExit);
  if (!(await ns.waitHandshake(o.handshakeMs ?? 5000))) {
    await ns.cleanup();
    process.off("exit", onExit);
    throw new Error(`no WireGuard handshake with ${o.endpoint ?? s.endpoint}`);
  }
  return {
    ns,
    async exec(cmd, args, eo = {}) {
      let all = "";
      const r = await spawnCapture("ip", ["netns", "exec", ns.name, cmd, ...args], {
        env: eo.env ?? process.env,
        timeoutMs: eo.timeoutMs ?? 60_000,
        ...(eo.onStart ? { onSpawn: eo.onStart } : {}),
        onStdout: (chunk) => eo.onStdout?.((all += chunk)),
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: r.ms };
    },
    async close() {
      await ns.cleanup();
      process.off("exit", onExit);
    },
  };
}

export interface RelayStats {
  forwarded: number;
  dropped: number;
  delayed: number;
}

export interface UdpRelay {
  /** `127.0.0.1:<port>`: give this to the client as its endpoint. */
  endpoint: string;
  stats: RelayStats;
  /** Change the impairment (0 = none) at run time. */
  impair: Impairment;
  close(): void;
}

/**
 * A UDP relay on 127.0.0.1 between one client (the first source that sends
 * to it) and `127.0.0.1:<targetPort>`, in both directions. Each datagram is
 * dropped with probability `loss`, else held back `delayMs` with
 * probability `reorder` (later datagrams overtake it), else forwarded at
 * once — in the impaired `direction`. WireGuard datagrams carry one tunneled IP packet each, so this is
 * packet loss and reordering inside the tunnel (and WireGuard's replay
 * window has to tolerate the reordering, as on a real path).
 */
export interface Impairment {
  loss: number;
  reorder: number;
  delayMs: number;
  /** Which datagrams are impaired (default both): "to-gateway" is what netem on the client's egress does. */
  direction?: "both" | "to-gateway" | "to-client";
}

export async function impairedUdpRelay(targetPort: number, impair: Impairment): Promise<UdpRelay> {
  const sock = createSocket("udp4");
  const stats: RelayStats = { forwarded: 0, dropped: 0, delayed: 0 };
  const state = { ...impair };
  let client: RemoteInfo | undefined;
  const timers = new Set<NodeJS.Timeout>();
  sock.on("message", (msg, from) => {
    const toGateway = !(from.address === "127.0.0.1" && from.port === targetPort);
    if (toGateway) client = from;
    else if (!client) return;
    const [port, host] = toGateway ? [targetPort, "127.0.0.1"] : [client!.port, client!.address];
    const dir = state.direction ?? "both";
    const r = dir === "both" || (dir === "to-gateway") === toGateway ? Math.random() : 1;
    if (r < state.loss) {
      stats.dropped++;
      return;
    }
    if (r < state.loss + state.reorder) {
      stats.delayed++;
      const t = setTimeout(() => {
        timers.delete(t);
        stats.forwarded++;
        sock.send(msg, port, host);
      }, state.delayMs);
      timers.add(t);
      return;
    }
    stats.forwarded++;
    sock.send(msg, port, host);
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  sock.setRecvBufferSize(8 << 20);
  sock.setSendBufferSize(8 << 20);
  return {
    endpoint: `127.0.0.1:${sock.address().port}`,
    stats,
    impair: state,
    close() {
      for (const t of timers) clearTimeout(t);
      sock.close();
    },
  };
}
