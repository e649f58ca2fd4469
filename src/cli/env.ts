/** `clawpatrol env`: the env pushdown as shell exports (src/device/env.ts). */
import type { CliIO } from "./io.js";
import { CONFIG_DIR_HELP, deviceCommand } from "./device-cmd.js";
import { formatExports, pushdownEnv } from "../device/env.js";
import { requireActive } from "../device/state.js";

const USAGE = `usage: clawpatrol env [--config-dir DIR]

Prints what \`clawpatrol run\` adds to a command's environment, as
\`export NAME='value'\` lines: CA bundle variables (SSL_CERT_FILE,
NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, ...)
and the profile's credential placeholders. Use: eval "$(clawpatrol env)".

${CONFIG_DIR_HELP}`;

export function run(argv: string[], io: CliIO): Promise<number> {
  return deviceCommand("env", USAGE, argv, io, {}, ({ dir }) => {
    io.stdout(formatExports(pushdownEnv(requireActive(dir), dir)));
    return 0;
  });
}
