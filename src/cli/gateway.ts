/**
 * `clawpatrol gateway [config]`: run the gateway until SIGINT / SIGTERM.
 * Without a config it runs the embedded quickstart (written to
 * `./.clawpatrol/gateway.hcl` on first use). SIGHUP reloads the config.
 *
 * `--set-dashboard-password` / `--reset-dashboard-password` manage the
 * dashboard's root login in the gateway's database and exit without
 * starting the gateway.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic } from "../config/diagnostics.js";
import { loadConfig } from "../config/load.js";
import { GatewayStartError, startGateway, stateDirOf } from "../gateway/gateway.js";
import { createLogger, levelFromEnv } from "../gateway/log.js";
import { QUICKSTART_HCL } from "../gateway/quickstart.js";
import { openStore } from "../store/db.js";
import { hashPassword, passwordProblem } from "../web/auth/password.js";
import { DEFAULT_ROOT_USER } from "../web/routes/auth.js";
import { isRawTerminal, readHiddenLines } from "./hidden-line.js";
import { parseCommandArgs, UsageError, type CliIO } from "./io.js";

const USAGE = `usage: clawpatrol gateway [--state-dir <dir>] [<config.hcl | config-dir>]
       clawpatrol gateway --set-dashboard-password [--state-dir <dir>] [<config>] < password
       clawpatrol gateway --reset-dashboard-password [--state-dir <dir>] [<config>]

Runs the gateway. Without a config, runs the built-in quickstart config
(written to ./.clawpatrol/gateway.hcl on first use; edit it there).
Policy changes reload on save and on SIGHUP; SIGINT / SIGTERM drain and stop.
Logs are JSON lines (readable lines on a terminal); CLAWPATROL_LOG_LEVEL=debug|info|warn|error.

The dashboard and management API listen on gateway.dashboard_listen. On
first run, open it to set the root (admin) password, or:
  --set-dashboard-password    read a new password (one line, at least 10
                              characters) from stdin — at a terminal it is
                              not shown and asked twice — set it for the root
                              user "admin" (creating it, as admin), end all
                              dashboard sessions, and exit
  --reset-dashboard-password  delete every dashboard user, session and API
                              token (first-run setup applies again), and exit
Both find the database through the config's state_dir (or --state-dir).
`;

/** Reads one line from `stdin` (without the line break). */
export function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const done = (line: string) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.off("error", reject);
      (stdin as { pause?: () => void }).pause?.();
      resolve(line.replace(/\r$/, ""));
    };
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) done(buf.slice(0, i));
    };
    const onEnd = () => done(buf);
    stdin.on("data", onData);
    stdin.once("end", onEnd);
    stdin.once("error", reject);
  });
}

export async function run(argv: string[], io: CliIO, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  let configPath: string | undefined;
  let stateDir: string | undefined;
  let setPassword = false;
  let resetPassword = false;
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      help: { type: "boolean", short: "h" },
      "state-dir": { type: "string" },
      "set-dashboard-password": { type: "boolean" },
      "reset-dashboard-password": { type: "boolean" },
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError("expected at most one config file or directory");
    configPath = positionals[0];
    if (typeof values["state-dir"] === "string") stateDir = values["state-dir"];
    setPassword = values["set-dashboard-password"] === true;
    resetPassword = values["reset-dashboard-password"] === true;
    if (setPassword && resetPassword) throw new UsageError("--set-dashboard-password and --reset-dashboard-password exclude each other");
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`clawpatrol gateway: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (setPassword || resetPassword) return dashboardPassword(io, stdin, configPath ?? join(".clawpatrol", "gateway.hcl"), stateDir, setPassword ? "set" : "reset");
  const level = levelFromEnv();
  const log = createLogger(level ? { level } : {});
  if (configPath === undefined) {
    const dir = ".clawpatrol";
    configPath = join(dir, "gateway.hcl");
    if (!existsSync(configPath)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(configPath, QUICKSTART_HCL, { mode: 0o600 });
      log.info("wrote the quickstart config", { path: configPath });
    }
  }
  let gw;
  try {
    gw = await startGateway({ configPath, log, ...(stateDir !== undefined ? { stateDir } : {}) });
  } catch (e) {
    if (e instanceof GatewayStartError) {
      log.error(e.message);
      return 1;
    }
    log.error("gateway failed to start", { error: (e as Error).message });
    return 1;
  }
  log.info("gateway running", { config: configPath, listeners: gw.listeners(), info: gw.infoAddress() });
  return new Promise<number>((resolve) => {
    const onHup = () => gw.reload();
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("stopping; draining in-flight requests", { signal });
      process.off("SIGHUP", onHup);
      gw.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on("SIGHUP", onHup);
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}

/** `--set-dashboard-password` / `--reset-dashboard-password`. */
async function dashboardPassword(io: CliIO, stdin: NodeJS.ReadableStream, configPath: string, stateDir: string | undefined, mode: "set" | "reset"): Promise<number> {
  let dir = stateDir;
  if (dir === undefined) {
    const loaded = loadConfig(configPath);
    if (!loaded.config) {
      for (const d of loaded.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
      io.stderr(`clawpatrol gateway: cannot read ${configPath} to find state_dir; pass --state-dir\n`);
      return 1;
    }
    dir = stateDirOf({ config: loaded.config });
  }
  let password = "";
  if (mode === "set") {
    if (isRawTerminal(stdin)) {
      // At a terminal: not echoed, and typed twice (a typo cannot be seen).
      const typed = await readHiddenLines(stdin, io.stderr, ["New dashboard password: ", "Repeat it: "]);
      if (typed === undefined) {
        io.stderr("clawpatrol gateway: cancelled; nothing changed\n");
        return 130;
      }
      const [first, again] = typed as [string, string];
      if (first !== again) {
        io.stderr("clawpatrol gateway: the two passwords differ; nothing changed\n");
        return 1;
      }
      password = first;
    } else {
      password = await readLine(stdin);
    }
    const problem = passwordProblem(password);
    if (problem) {
      io.stderr(`clawpatrol gateway: ${problem}\n`);
      return 1;
    }
  }
  let store;
  try {
    store = openStore(dir);
  } catch (e) {
    io.stderr(`clawpatrol gateway: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    if (mode === "set") {
      store.users.setRootPassword(DEFAULT_ROOT_USER, await hashPassword(password));
      io.stdout(`dashboard password set for "${DEFAULT_ROOT_USER}" (admin); all dashboard sessions ended\n`);
    } else {
      const n = store.users.reset();
      io.stdout(`dashboard users reset (${n} deleted); open the dashboard to set the first password\n`);
    }
  } finally {
    store.close();
  }
  return 0;
}
