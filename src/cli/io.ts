/**
 * Output and argument helpers shared by CLI commands. Commands write through
 * a {@link CliIO} instead of `process.stdout` so tests can capture output and
 * exit codes in-process.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/** A usage error: the command prints it with its usage text and exits 2. */
export class UsageError extends Error {}

/** `util.parseArgs` with strict options, turning its errors into {@link UsageError}s. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}
