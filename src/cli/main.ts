/**
 * `clawpatrol` command dispatch. Each command lives in its own module and
 * exports `run(argv, io) → exit code`; this file only maps names to modules,
 * so adding a command touches one line here.
 */
import type { CliIO } from "./io.js";
import { processIO } from "./io.js";

interface Command {
  summary: string;
  load(): Promise<{ run(argv: string[], io: CliIO): Promise<number> | number }>;
}

const COMMANDS: Record<string, Command> = {
  gateway: { summary: "run the gateway (no config: the built-in quickstart)", load: () => import("./gateway.js") },
  validate: { summary: "check a config file or directory", load: () => import("./validate.js") },
  test: { summary: "replay recorded actions (fixtures) against a config", load: () => import("./test.js") },
  devices: { summary: "list, approve (by enrollment code) and block devices", load: () => import("./devices.js") },
  join: { summary: "enroll this machine with a gateway (WireGuard)", load: () => import("./join.js") },
  run: { summary: "run a command whose only network is the tunnel (Linux, root)", load: () => import("./run.js") },
  env: { summary: "print the env pushdown (CA bundle, placeholders) as shell exports", load: () => import("./env.js") },
  status: { summary: "this device's enrollment, gateway reachability, last handshake", load: () => import("./status.js") },
  uninstall: { summary: "remove this device's state and wg-quick config", load: () => import("./uninstall.js") },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: clawpatrol <command> [arguments]\n\ncommands:\n${lines.join("\n")}\n\nRun \`clawpatrol <command> --help\` for a command's options.\n`;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr(`clawpatrol: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest, io);
}
