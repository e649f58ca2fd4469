/**
 * `clawpatrol test <config> <fixture.json | dir>`: policy regression tests.
 * Replays recorded actions against a candidate config and reports every
 * verdict / rule / endpoint that moved. Exit 0 all match, 1 any mismatch or
 * unreadable fixture, 2 usage or config errors.
 *
 * `clawpatrol test --backtest <candidate-config>`: the same question asked
 * of a gateway's audit log — replays its newest actions against the
 * candidate (src/policy/backtest.ts) and prints every verdict that would
 * change. Exit 0 nothing changes, 1 something would, 2 usage/config errors.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { CompiledPolicy } from "../policy/compiled.js";
import { backtestRows } from "../policy/backtest.js";
import { initReplay } from "../policy/replay.js";
import { DB_FILENAME, openStore } from "../store/db.js";
import type { ActionSummary } from "../store/actions.js";
import { formatDiagnostic } from "../config/diagnostics.js";
import { loadPolicy } from "../config/policy.js";
import { formatFixtureError, parseFixture } from "../policy/fixtures/format.js";
import { runFixture, type FixtureOutcome } from "../policy/fixtures/runner.js";
import { initSqlAnalyzer } from "../policy/sql/analyze.js";
import { parseCommandArgs, UsageError, type CliIO } from "./io.js";
import { sortDiagnostics } from "./validate.js";

const USAGE = `usage: clawpatrol test [--json] [--now <ISO-8601 time>] <config.hcl | config-dir> <fixture.json | fixture-dir>
       clawpatrol test --backtest <candidate-config> [--state-dir <dir>] [--limit N] [--json] [--now <time>]

Replays each fixture's recorded action against the config with the gateway's
own decision function and compares verdict, rule and (when pinned) endpoint.
A directory is read for *.json files (direct children, in name order).

  --json        print a JSON array, one object per fixture:
                {file, ok, want: {verdict, rule, endpoint}, got: {verdict, rule, endpoint, reason}}
  --now <time>  the clock rules see through now.* (default: the current time)

Exit status: 0 every fixture matches, 1 a mismatch or an unreadable fixture,
2 usage or config errors.

--backtest replays the newest actions a gateway recorded (its state_dir
database) against a candidate config and prints every verdict that would
change: time, endpoint, summary, before → after (rule). Rows that cannot be
replayed faithfully (refused before the policy ran, or decided by facets the
audit does not keep, such as bodies) are counted as skipped.

  --state-dir <dir>  the gateway's state directory (default: the candidate's
                     gateway.state_dir, else ~/.clawpatrol)
  --limit N          how many of the newest actions to replay (default 1000)
  --json             print {replayed, changed, skipped} as JSON
  --now <time>       decide every action at this time (default: each at its own)

Backtest exit status: 0 nothing would change, 1 something would, 2 usage or
config errors (including a missing database).
`;

const DEFAULT_BACKTEST_LIMIT = 1000;
const PAGE = 1000;

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
      backtest: { type: "string" },
      "state-dir": { type: "string" },
      limit: { type: "string" },
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (typeof values.backtest === "string") {
      if (positionals.length !== 0) throw new UsageError("--backtest takes the candidate config only, no fixtures");
      let limit = DEFAULT_BACKTEST_LIMIT;
      if (typeof values.limit === "string") {
        if (!/^[1-9][0-9]{0,8}$/.test(values.limit)) throw new UsageError(`--limit: not a positive integer: ${values.limit}`);
        limit = Number(values.limit);
      }
      let at: Date | undefined;
      if (typeof values.now === "string") {
        at = new Date(values.now);
        if (Number.isNaN(at.getTime())) throw new UsageError(`--now: not a time: ${values.now}`);
      }
      const stateDir = typeof values["state-dir"] === "string" ? values["state-dir"] : undefined;
      return await backtest({ candidate: values.backtest, limit, json: values.json === true, ...(stateDir !== undefined ? { stateDir } : {}), ...(at ? { now: at } : {}) }, io);
    }
    if (values["state-dir"] !== undefined || values.limit !== undefined) throw new UsageError("--state-dir and --limit go with --backtest");
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

// ---------------------------------------------------------------------------
// --backtest

interface BacktestArgs {
  candidate: string;
  stateDir?: string;
  limit: number;
  json: boolean;
  now?: Date;
}

/** The gateway's state directory: the flag, else the candidate's `gateway.state_dir`, else ~/.clawpatrol (as the gateway resolves it). */
function stateDirOf(policy: CompiledPolicy, override: string | undefined): string {
  const v = override ?? policy.config.gateway?.fields.state_dir;
  const dir = typeof v === "string" && v !== "" ? v : "~/.clawpatrol";
  return resolve(dir.replace(/^~(?=$|\/)/, homedir()));
}

/** Recorded text (an agent chose it) on one terminal line: control characters shown escaped. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `yyyy-MM-dd HH:mm:ss.SSS`, local time (as the dashboard shows it). */
function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

async function backtest(a: BacktestArgs, io: CliIO): Promise<number> {
  const { policy, diagnostics, files: configFiles } = loadPolicy(a.candidate);
  if (!policy) {
    for (const d of sortDiagnostics(diagnostics, configFiles)) io.stderr(`${formatDiagnostic(d)}\n`);
    io.stderr(`clawpatrol test: the candidate config has errors; fix them first (see \`clawpatrol validate\`)\n`);
    return 2;
  }
  const dir = stateDirOf(policy, a.stateDir);
  if (!existsSync(join(dir, DB_FILENAME))) {
    io.stderr(`clawpatrol test: no gateway database at ${join(dir, DB_FILENAME)} (pass --state-dir)\n`);
    return 2;
  }
  let rows: ActionSummary[] = [];
  try {
    const store = openStore(dir);
    try {
      let before: number | undefined;
      while (rows.length < a.limit) {
        const page = store.actions.list({ limit: Math.min(PAGE, a.limit - rows.length), ...(before !== undefined ? { before } : {}) });
        rows = rows.concat(page.rows);
        if (page.nextBefore === null) break;
        before = page.nextBefore;
      }
    } finally {
      store.close();
    }
  } catch (e) {
    io.stderr(`clawpatrol test: cannot read the gateway database: ${(e as Error).message}\n`);
    return 2;
  }
  await initReplay();
  rows.reverse(); // oldest first: changes print in the order they happened
  const result = backtestRows(policy, rows, a.now ? { now: a.now } : {});
  if (a.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    for (const c of result.changed) {
      const was = c.before.rule !== "" && c.before.rule !== c.after.rule ? `; was ${c.before.rule}` : "";
      io.stdout(`${stamp(c.time)}  ${c.endpoint || "-"}  ${oneLine(c.summary)}  ${c.before.verdict} → ${c.after.verdict} (${c.after.rule || "no rule"}${was})\n`);
    }
    io.stdout(`${result.replayed} action(s) replayed, ${result.changed.length} would change, ${result.skipped} skipped (not replayable)\n`);
  }
  return result.changed.length > 0 ? 1 : 0;
}
