/**
 * `clawpatrol validate <file|dir>`: load and compile a config exactly as the
 * gateway would, print every diagnostic, and exit 0 (valid), 1 (config
 * errors) or 2 (usage).
 */
import { formatDiagnostic, hasErrors, type Diagnostic } from "../config/diagnostics.js";
import { loadPolicy } from "../config/policy.js";
import { parseCommandArgs, UsageError, type CliIO } from "./io.js";

const USAGE = `usage: clawpatrol validate <config.hcl | config-dir>

Loads the config the way \`clawpatrol gateway\` does — HCL syntax, every block
and field, references, CEL rule conditions, credential dispatch — and prints
every problem found as  severity: file:line:col: summary — detail.

Exit status: 0 valid (warnings allowed), 1 config errors, 2 usage.
`;

/** Stable order for printing: config-wide problems first, then by file and position. */
export function sortDiagnostics(ds: Diagnostic[], files: readonly string[]): Diagnostic[] {
  const fileOrder = (f: string) => {
    const i = files.indexOf(f);
    return i < 0 ? files.length : i;
  };
  return ds
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const ra = a.d.range;
      const rb = b.d.range;
      if (!ra || !rb) return (ra ? 1 : 0) - (rb ? 1 : 0) || a.i - b.i;
      return (
        fileOrder(ra.file) - fileOrder(rb.file) ||
        ra.start.line - rb.start.line ||
        ra.start.col - rb.start.col ||
        a.i - b.i
      );
    })
    .map((x) => x.d);
}

export function run(argv: string[], io: CliIO): number {
  let path: string;
  try {
    const { values, positionals } = parseCommandArgs(argv, { help: { type: "boolean", short: "h" } });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError("expected exactly one config file or directory");
    path = positionals[0]!;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`clawpatrol validate: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const { policy, diagnostics, files } = loadPolicy(path);
  for (const d of sortDiagnostics(diagnostics, files)) io.stderr(`${formatDiagnostic(d)}\n`);
  if (hasErrors(diagnostics) || !policy) {
    const n = diagnostics.filter((d) => d.severity === "error").length;
    io.stderr(`${path}: ${n} error(s)\n`);
    return 1;
  }
  const endpoints = policy.endpoints.size;
  const profiles = policy.profiles.size;
  io.stdout(`ok: ${path} — ${endpoints} endpoints across ${profiles} profile(s)\n`);
  return 0;
}
