/**
 * Shared shape of the device-side commands (join, run, env, status,
 * uninstall): argument parsing with `--config-dir`, usage on errors, and
 * readable failures (exit 1) instead of stack traces.
 */
import { parseCommandArgs, UsageError, type CliIO } from "./io.js";
import { configDir } from "../device/state.js";
import type { ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  dir: string;
}

/** Runs `body` with parsed arguments; usage errors exit 2, other errors print and exit 1. */
export async function deviceCommand(
  name: string,
  usage: string,
  argv: string[],
  io: CliIO,
  options: Options,
  body: (p: Parsed) => Promise<number> | number,
): Promise<number> {
  let parsed: Parsed;
  try {
    const r = parseCommandArgs(argv, { help: { type: "boolean", short: "h" }, "config-dir": { type: "string" }, ...options });
    if (r.values.help) {
      io.stdout(usage);
      return 0;
    }
    parsed = { ...r, dir: configDir(typeof r.values["config-dir"] === "string" ? r.values["config-dir"] : undefined) };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`clawpatrol ${name}: ${e.message}\n\n${usage}`);
    return 2;
  }
  try {
    return await body(parsed);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`clawpatrol ${name}: ${e.message}\n\n${usage}`);
      return 2;
    }
    io.stderr(`clawpatrol ${name}: ${(e as Error).message}\n`);
    return 1;
  }
}

export const CONFIG_DIR_HELP = "  --config-dir DIR   device state directory (default $CLAWPATROL_CONFIG_DIR, else ~/.config/clawpatrol)\n";
