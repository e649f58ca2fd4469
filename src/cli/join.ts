/** `clawpatrol join <gateway-url>`: enroll this machine as a WireGuard device (src/device/join.ts). */
import type { CliIO } from "./io.js";
import { UsageError } from "./io.js";
import { CONFIG_DIR_HELP, deviceCommand } from "./device-cmd.js";
import { join } from "../device/join.js";

const USAGE = `usage: clawpatrol join <gateway-url> [--name NAME] [--whole-machine [--out FILE]] [--force]

Generates a WireGuard key pair on this machine, enrolls with the gateway and
prints a one-time code and the gateway CA fingerprint. An operator approves
the code (\`clawpatrol devices approve <code> --profile P\`); join then saves
the device state and exits 0.

  --name NAME        device name (default: the host name)
  --whole-machine    also write a wg-quick config (default /etc/wireguard/clawpatrol.conf)
  --out FILE         where to write the wg-quick config
  --force            enroll again even if this machine already joined
  --timeout SECONDS  how long to wait for approval (default 900)
${CONFIG_DIR_HELP}`;

export function run(argv: string[], io: CliIO): Promise<number> {
  return deviceCommand(
    "join",
    USAGE,
    argv,
    io,
    {
      name: { type: "string" },
      "whole-machine": { type: "boolean" },
      out: { type: "string" },
      force: { type: "boolean" },
      timeout: { type: "string" },
      "poll-ms": { type: "string" },
    },
    async ({ values, positionals, dir }) => {
      if (positionals.length !== 1) throw new UsageError("expected the gateway URL");
      const timeout = values.timeout !== undefined ? Number(values.timeout) : 900;
      if (!(timeout > 0)) throw new UsageError("--timeout must be a positive number of seconds");
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once("SIGINT", stop);
      try {
        await join({
          gatewayUrl: positionals[0]!,
          dir,
          ...(typeof values.name === "string" ? { name: values.name } : {}),
          wholeMachine: values["whole-machine"] === true,
          ...(typeof values.out === "string" ? { out: values.out } : {}),
          force: values.force === true,
          timeoutMs: timeout * 1000,
          ...(typeof values["poll-ms"] === "string" ? { pollMs: Number(values["poll-ms"]) } : {}),
          print: (l) => io.stdout(`${l}\n`),
          signal: ac.signal,
        });
      } finally {
        process.off("SIGINT", stop);
      }
      return 0;
    },
  );
}
