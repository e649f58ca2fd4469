/**
 * `tunnel "local_command"`: the gateway runs a program that opens a local
 * listener (cloud-sql-proxy, an SSM port-forward, ...) and dials that
 * listener for every connection. The program already knows its upstream,
 * so the endpoint's host only names the traffic.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import type { TunnelTypeSpec } from "../schema.js";
import {
  TUNNEL_COMMON_FIELDS,
  getString,
  getStrings,
  rangeOf,
  validateDurationField,
  validateTunnelCommon,
} from "../common.js";
import { checkListenAddress, goQuote } from "../formats.js";

/** The spec of `tunnel "local_command"`; registered in ../registry.ts. */
export const localCommandTunnel: TunnelTypeSpec = {
  kind: "tunnel",
  type: "local_command",
  doc:
    "Runs a local helper process that exposes a TCP listener and dials it for every connection. Shared by default " +
    "(`share = \"singleton\"`). The program runs as the gateway's user — treat the config as code.",
  fields: {
    command: {
      type: "list<string>",
      required: true,
      doc: "The program and its arguments (argv, no shell). Pass secrets through `env`, not here: arguments are visible to every local user.",
    },
    listen: { type: "string", required: true, doc: 'The "host:port" the program listens on; every connection is dialed there.' },
    ready_probe: {
      type: "string",
      enum: ["tcp", "none"],
      default: "tcp",
      doc: '"tcp" waits until `listen` accepts connections before the tunnel counts as up; "none" does not wait.',
    },
    ready_timeout: { type: "string", default: "30s", doc: 'How long to wait for the readiness probe ("30s").' },
    env: {
      type: "map<string,string>",
      secretTemplate: true,
      doc: "Extra environment variables for the program. `{{secret:NAME}}` in a value is replaced from the secret store at start.",
    },
    ...TUNNEL_COMMON_FIELDS,
    share: { ...TUNNEL_COMMON_FIELDS["share"]!, default: "singleton" },
  },
  validate(b, ctx) {
    const out: Diagnostic[] = [];
    const command = getStrings(b, "command");
    if (command !== undefined && (command.length === 0 || command[0]!.trim() === "")) {
      out.push(ctx.error(`Empty command on local_command tunnel ${goQuote(b.name)}`, "command must name the program to run, e.g. [\"cloud-sql-proxy\", \"...\"].", rangeOf(b, "command")));
    }
    const listen = getString(b, "listen");
    if (listen !== undefined) {
      const err = checkListenAddress(listen);
      if (err) out.push(ctx.error(`Invalid listen on local_command tunnel ${goQuote(b.name)}`, `listen = ${goQuote(listen)}: ${err}.`, rangeOf(b, "listen")));
    }
    out.push(...validateDurationField(b, "ready_timeout", ctx, { positive: true }));
    out.push(...validateTunnelCommon(b, ctx));
    return out;
  },
};
