/** `clawpatrol uninstall`: removes the device state and the wg-quick config join wrote. */
import { existsSync, rmSync } from "node:fs";
import type { CliIO } from "./io.js";
import { CONFIG_DIR_HELP, deviceCommand } from "./device-cmd.js";
import { loadState, removeState } from "../device/state.js";
import { sweepStale } from "../device/netns.js";

const USAGE = `usage: clawpatrol uninstall [--config-dir DIR]

Removes this device's state (private key, CA, bundle) and the wg-quick
config \`join --whole-machine\` wrote (bring that interface down first:
\`wg-quick down <file>\`). The gateway keeps the device record; an operator
can block or delete it.

${CONFIG_DIR_HELP}`;

export function run(argv: string[], io: CliIO): Promise<number> {
  return deviceCommand("uninstall", USAGE, argv, io, {}, ({ dir }) => {
    let s;
    try {
      s = loadState(dir);
    } catch {
      s = undefined; // damaged: remove it anyway
    }
    const removed: string[] = [];
    if (s?.wgQuickPath && existsSync(s.wgQuickPath)) {
      rmSync(s.wgQuickPath, { force: true });
      removed.push(s.wgQuickPath);
    }
    removed.push(...removeState(dir));
    if (process.platform === "linux" && process.getuid?.() === 0) removed.push(...sweepStale().map((n) => `network namespace ${n}`));
    if (removed.length === 0) io.stdout("nothing to remove\n");
    for (const r of removed) io.stdout(`removed ${r}\n`);
    return 0;
  });
}
