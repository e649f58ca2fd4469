/**
 * `clawpatrol test <config> <fixture.json | dir>`: policy regression tests.
 * Replays recorded actions against a candidate config and reports every
 * verdict / rule / endpoint that moved. Exit 0 all match, 1 any mismatch or
 * unreadable fixture, 2 usage or config errors.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic } from "../config/diagnostics.js";
import { loadPolicy } from "../config/policy.js";
import { formatFixtureError, parseFixture } from "../policy/fixtures/format.js";
import { runFixture, type FixtureOutcome } from "../policy/fixtures/runner.js";
import { initSqlAnalyzer } from "../policy/sql/analyze.js";
import { parseCommandArgs, UsageError, type CliIO } from "./io.js";
import { sortDiagnostics } from "./validate.js";

const USAGE = `usage: clawpatrol test [--json] [--now <ISO-8601 time>] <config.hcl | config-dir> <fixture.json | fixture-dir>

Replays each fixture's recorded action against the config with the gateway's
own decision function and compares verdict, rule and (when pinned) endpoint.
A directory is read for *.json files (direct children, in name order).

  --json        print a JSON array, one object per fixture:
                {file, ok, want: {verdict, rule, endpoint}, got: {verdict, rule, endpoint, reason}}
  --now <time>  the clock rules see through now.* (default: the current time)

Exit status: 0 every fixture matches, 1 a mismatch or an unreadable fixture,
2 usage or config errors.
`;

interface Row {
  file: string;
  outcome?: FixtureOutcome;
  /** Fixture load problems (unreadable, invalid JSON, schema errors). */
  errors?: string[];
}

function fixtureFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((n) => n.endsWith(".json"))
    .sort()
    .map((n) => join(path, n))
    .filter((p) => statSync(p).isFile());
}

function q(s: string): string {
  return JSON.stringify(s);
}

function line(label: string, v: { verdict: string; rule: string; endpoint?: string }): string {
  const verdict = `verdict=${q(v.verdict)}`.padEnd(20);
  const rule = `rule=${q(v.rule)}`.padEnd(35);
  return `  ${label} ${verdict} ${rule} endpoint=${q(v.endpoint ?? "")}\n`;
}

function printText(rows: Row[], io: CliIO): void {
  for (const r of rows) {
    if (r.errors) {
      io.stdout(`FAIL ${r.file}: ${r.errors.join("; ")}\n`);
      continue;
    }
    const o = r.outcome!;
    if (o.skipped) {
      io.stdout(`skip ${r.file}: ${o.problem}\n`);
    } else if (o.ok) {
      io.stdout(`ok   ${r.file}\n`);
    } else if (o.problem) {
      io.stdout(`FAIL ${r.file}: ${o.problem}\n`);
    } else {
      io.stdout(`FAIL ${r.file}\n`);
      io.stdout(line("want", o.want));
      io.stdout(line("got ", { ...o.got!, endpoint: o.got!.endpoint }));
    }
  }
}

function jsonRows(rows: Row[]): unknown[] {
  return rows.map((r) => {
    if (r.errors) return { file: r.file, ok: false, error: r.errors.join("; ") };
    const o = r.outcome!;
    const out: Record<string, unknown> = {
      file: r.file,
      ok: o.ok,
      want: { verdict: o.want.verdict, rule: o.want.rule ?? "", endpoint: o.want.endpoint ?? "" },
      got: o.got ?? null,
    };
    if (o.skipped) out.skipped = true;
    if (o.problem) out.problem = o.problem;
    return out;
  });
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  let configPath: string;
  let fixturesPath: string;
  let json = false;
  let now = new Date();
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean" },
      now: { type: "string" },
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError("expected a config and a fixture file or directory");
    [configPath, fixturesPath] = positionals as [string, string];
    json = values.json === true;
    if (typeof values.now === "string") {
      now = new Date(values.now);
      if (Number.isNaN(now.getTime())) throw new UsageError(`--now: not a time: ${values.now}`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`clawpatrol test: ${e.message}\n\n${USAGE}`);
    return 2;
  }

  let files: string[];
  try {
    files = fixtureFiles(fixturesPath);
  } catch {
    io.stderr(`clawpatrol test: cannot read fixtures at ${fixturesPath}\n`);
    return 2;
  }

  const { policy, diagnostics, files: configFiles } = loadPolicy(configPath);
  if (!policy) {
    for (const d of sortDiagnostics(diagnostics, configFiles)) io.stderr(`${formatDiagnostic(d)}\n`);
    io.stderr(`clawpatrol test: the config has errors; fix them first (see \`clawpatrol validate\`)\n`);
    return 2;
  }
  await initSqlAnalyzer();

  const rows: Row[] = files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return { file, errors: [`cannot read: ${(e as Error).message}`] };
    }
    const parsed = parseFixture(text);
    if (!parsed.ok) return { file, errors: parsed.errors.map(formatFixtureError) };
    return { file, outcome: runFixture(policy, parsed.fixture, now) };
  });

  const checked = rows.filter((r) => !r.outcome?.skipped).length;
  const mismatches = rows.filter((r) => r.errors || (r.outcome && !r.outcome.ok)).length;
  if (json) {
    io.stdout(`${JSON.stringify(jsonRows(rows), null, 2)}\n`);
  } else {
    printText(rows, io);
    io.stdout(`${checked} action(s) checked, ${mismatches} mismatch(es)\n`);
  }
  return mismatches > 0 ? 1 : 0;
}
