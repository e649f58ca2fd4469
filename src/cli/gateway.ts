/**
 * `clawpatrol gateway [config]`: run the gateway until SIGINT / SIGTERM.
 * Without a config it runs the embedded quickstart (written to
 * `./.clawpatrol/gateway.hcl` on first use). SIGHUP reloads the config.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GatewayStartError, startGateway } from "../gateway/gateway.js";
import { createLogger, levelFromEnv } from "../gateway/log.js";
import { QUICKSTART_HCL } from "../gateway/quickstart.js";
import { parseCommandArgs, UsageError, type CliIO } from "./io.js";

const USAGE = `usage: clawpatrol gateway [--state-dir <dir>] [<config.hcl | config-dir>]

Runs the gateway. Without a config, runs the built-in quickstart config
(written to ./.clawpatrol/gateway.hcl on first use; edit it there).
Policy changes reload on save and on SIGHUP; SIGINT / SIGTERM drain and stop.
Logs are JSON lines (readable lines on a terminal); CLAWPATROL_LOG_LEVEL=debug|info|warn|error.
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  let configPath: string | undefined;
  let stateDir: string | undefined;
  try {
    const { values, positionals } = parseCommandArgs(argv, { help: { type: "boolean", short: "h" }, "state-dir": { type: "string" } });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError("expected at most one config file or directory");
    configPath = positionals[0];
    if (typeof values["state-dir"] === "string") stateDir = values["state-dir"];
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`clawpatrol gateway: ${e.message}\n\n${USAGE}`);
    return 2;
  }
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
