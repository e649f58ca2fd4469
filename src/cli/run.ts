/** `clawpatrol run -- <cmd> [args]`: a command whose only network is the tunnel (src/device/run.ts). */
import type { CliIO } from "./io.js";
import { UsageError } from "./io.js";
import { CONFIG_DIR_HELP, deviceCommand } from "./device-cmd.js";
import { runInTunnel } from "../device/run.js";

const USAGE = `usage: clawpatrol run [--config-dir DIR] -- <command> [args...]

Runs <command> in its own network namespace whose only way out is the
WireGuard tunnel to the gateway: DNS goes to the gateway, the gateway CA is
trusted through the env pushdown (see \`clawpatrol env\`), signals are
forwarded, and the exit code is the command's. Linux; needs root (sudo),
ip, wg and wireguard-go.

${CONFIG_DIR_HELP}`;

export function run(argv: string[], io: CliIO): Promise<number> {
  const dd = argv.indexOf("--");
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const cmd = dd >= 0 ? argv.slice(dd + 1) : [];
  return deviceCommand("run", USAGE, own, io, {}, async ({ positionals, dir }) => {
    const full = [...positionals, ...cmd];
    if (full.length === 0) throw new UsageError("expected a command after --");
    return runInTunnel({ dir, command: full[0]!, args: full.slice(1), warn: (l) => io.stderr(`clawpatrol run: ${l}\n`) });
  });
}
