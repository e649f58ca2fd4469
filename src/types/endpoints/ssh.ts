/**
 * `endpoint "ssh"`: SSH servers. SSH carries no host name on the wire, so
 * the gateway answers the agent's DNS for these names with virtual IPs,
 * terminates SSH on both sides and gates each channel action (`ssh.*`).
 */
import type { EndpointTypeSpec } from "../schema.js";
import { ENDPOINT_COMMON_FIELDS, getStrings, hostEntries, validateEndpointCommon, validateHosts } from "../common.js";

/** The spec of `endpoint "ssh"`; registered in ../registry.ts. */
export const sshEndpoint: EndpointTypeSpec = {
  kind: "endpoint",
  type: "ssh",
  family: "ssh",
  doc:
    "SSH hosts. The agent's user name is passed upstream unchanged; a bound `ssh_key` credential supplies the key or " +
    "password. Rules see `ssh.verb` (pty, exec, shell, subsystem, forward) and friends.",
  fields: {
    hosts: {
      type: "list<string>",
      required: true,
      doc: 'SSH servers this endpoint claims, as "host" or "host:port" (port defaults to 22).',
    },
    ...ENDPOINT_COMMON_FIELDS,
  },
  defaultPort: () => 22,
  hostsOf: (b) => hostEntries(getStrings(b, "hosts")),
  validate(b, ctx) {
    return [
      ...validateHosts(b.name, getStrings(b, "hosts") ?? [], b.defRange, ctx, { wildcard: false }),
      ...validateEndpointCommon(b, ctx),
    ];
  },
};
