/**
 * `clawpatrol run -- <cmd> [args]`: runs a command in a network namespace
 * whose only way out is the WireGuard tunnel to the gateway (./netns.ts),
 * with DNS pointed at the gateway and the env pushdown (./env.ts).
 *
 * Signals SIGINT, SIGTERM and SIGHUP are forwarded to the command; its exit
 * code is returned (128 + signal number when it died of a signal); the
 * namespace, wireguard-go and temp files are removed on every path (normal
 * exit, error, signal; a SIGKILLed run is swept by the next one).
 *
 * Needs root (CAP_NET_ADMIN in the initial namespace to create the TUN
 * device and the namespace), `ip`, `wg` and `wireguard-go`.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { pushdownEnv } from "./env.js";
import { createTunnelNs, sweepStale, type TunnelNs } from "./netns.js";
import { requireActive } from "./state.js";
import { wgClientUnavailable } from "./wg-go.js";

export interface RunOptions {
  dir: string;
  command: string;
  args: string[];
  /** Wait this long for the first handshake before starting the command (default 5 s). */
  handshakeWaitMs?: number;
  warn(line: string): void;
}

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export async function runInTunnel(o: RunOptions): Promise<number> {
  const state = requireActive(o.dir);
  const why = wgClientUnavailable();
  if (why) throw new Error(`clawpatrol run cannot build the tunnel namespace: ${why}`);
  for (const n of sweepStale()) o.warn(`removed the namespace of an earlier run that did not clean up: ${n}`);

  let ns: TunnelNs | undefined;
  const onExit = () => ns?.cleanupSync();
  process.on("exit", onExit);
  // Until the command runs, a signal aborts the setup (and cleans up).
  let child: ReturnType<typeof spawn> | undefined;
  let pendingSignal: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (child && child.exitCode === null) child.kill(sig);
    else pendingSignal ??= sig;
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  try {
    ns = await createTunnelNs({
      privateKey: state.privateKey,
      address: state.address,
      gatewayPublicKey: state.gatewayPublicKey,
      endpoint: state.endpoint,
      dns: state.gatewayAddress,
    });
    if (!pendingSignal && !(await ns.waitHandshake(o.handshakeWaitMs ?? 5000))) {
      o.warn(`no WireGuard handshake with ${state.endpoint} yet; running anyway (is the gateway up and this device approved?)`);
    }
    if (pendingSignal) return 128 + (constants.signals[pendingSignal] ?? 1);
    const env = { ...process.env, ...pushdownEnv(state, o.dir) };
    const [cmd, ...argv] = commandArgv(ns.name, o.command, o.args, process.env, process.getuid?.());
    const c = spawn(cmd!, argv, { stdio: "inherit", env });
    child = c;
    return await new Promise<number>((resolve) => {
      c.once("error", (e) => {
        o.warn(`cannot start ${o.command}: ${e.message}`);
        resolve(127);
      });
      c.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 1)));
    });
  } finally {
    for (const s of FORWARDED) process.off(s, onSignal);
    await ns?.cleanup();
    process.off("exit", onExit);
  }
}

/**
 * The argv that starts the command inside the namespace. Building the
 * namespace needs root, but the command must not inherit it: run through
 * `sudo`, it drops back to the invoking user (`SUDO_UID` / `SUDO_GID`) with
 * `setpriv` before exec, so an agent never holds root because its sandbox
 * needed it. Run by root itself, it stays root.
 */
export function commandArgv(ns: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, uid: number | undefined): string[] {
  const base = ["ip", "netns", "exec", ns];
  const sudoUid = env.SUDO_UID;
  const sudoGid = env.SUDO_GID;
  if (uid === 0 && sudoUid && sudoGid && /^\d+$/.test(sudoUid) && /^\d+$/.test(sudoGid) && sudoUid !== "0") {
    return [...base, "setpriv", `--reuid=${sudoUid}`, `--regid=${sudoGid}`, "--init-groups", "--", command, ...args];
  }
  return [...base, command, ...args];
}
