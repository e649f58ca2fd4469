/**
 * `clawpatrol devices list | approve <code> --profile P | block <id>`: the
 * operator side of enrollment, over the management API with an API token
 * (`--token` or `$CLAWPATROL_TOKEN`; create one in the dashboard or with
 * `POST /api/tokens`).
 */
import type { CliIO } from "./io.js";
import { UsageError } from "./io.js";
import { deviceCommand } from "./device-cmd.js";
import { ManagementClient, normalizeGatewayUrl } from "../device/client.js";

const USAGE = `usage: clawpatrol devices <list | approve <code> --profile P | block <id>> [--gateway URL] [--token T]

  list                       enrolled devices (pending ones with their code)
  approve <code> --profile P approve the pending enrollment with this code
  block <id>                 block a device (its tunnel stops at once)

  --gateway URL   the gateway's dashboard URL (default $CLAWPATROL_GATEWAY, else http://127.0.0.1:8080)
  --token T       API token (default $CLAWPATROL_TOKEN)
`;

export function run(argv: string[], io: CliIO): Promise<number> {
  return deviceCommand(
    "devices",
    USAGE,
    argv,
    io,
    { gateway: { type: "string" }, token: { type: "string" }, profile: { type: "string" } },
    async ({ values, positionals }) => {
      const [sub, arg, ...extra] = positionals;
      if (extra.length > 0) throw new UsageError(`unexpected ${extra.join(" ")}`);
      const token = (typeof values.token === "string" ? values.token : undefined) ?? process.env.CLAWPATROL_TOKEN;
      if (!token) throw new UsageError("an API token is required: --token or $CLAWPATROL_TOKEN");
      const gw = normalizeGatewayUrl((typeof values.gateway === "string" ? values.gateway : undefined) ?? process.env.CLAWPATROL_GATEWAY ?? "http://127.0.0.1:8080");
      const api = new ManagementClient(gw, token);
      const out = (l: string) => io.stdout(`${l}\n`);
      switch (sub) {
        case "list": {
          const rows = await api.devices();
          out(["ID".padEnd(16), "NAME".padEnd(20), "STATUS".padEnd(8), "PROFILE".padEnd(12), "ADDRESS".padEnd(15), "CODE"].join(" "));
          for (const d of rows) {
            out([d.id.padEnd(16), d.name.padEnd(20), d.status.padEnd(8), (d.profile || "-").padEnd(12), (d.address ?? "-").padEnd(15), d.code ?? ""].join(" "));
          }
          return 0;
        }
        case "approve": {
          if (!arg) throw new UsageError("expected the enrollment code");
          const profile = values.profile;
          if (typeof profile !== "string" || profile === "") throw new UsageError("--profile is required");
          const [dev] = await api.devices(arg);
          if (!dev) throw new Error(`no pending enrollment with code ${arg}`);
          const info = await api.info();
          const ca = (info.ca as { fingerprint_sha256?: string } | undefined)?.fingerprint_sha256;
          const r = await api.approve(dev.id, profile);
          out(`approved ${dev.name} (${dev.id}) with profile ${profile}${r.address ? `, address ${r.address}` : ""}`);
          if (ca) out(`CA fingerprint: ${ca}  (the device shows the same)`);
          return 0;
        }
        case "block": {
          if (!arg) throw new UsageError("expected the device id");
          await api.block(arg);
          out(`blocked ${arg}`);
          return 0;
        }
        default:
          throw new UsageError(sub === undefined ? "expected a subcommand" : `unknown subcommand "${sub}"`);
      }
    },
  );
}
