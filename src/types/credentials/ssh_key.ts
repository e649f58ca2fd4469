/**
 * `credential "ssh_key"` (older name: `ssh`): the key, password and
 * optional host-key pin the gateway uses to log in upstream on SSH
 * endpoints and for `ssh_port_forward` tunnels. The user name is the
 * agent's own; the credential never overrides it.
 *
 * Dispatch is by that user name: when a profile binds several SSH
 * credentials at one endpoint, the one whose `user` matches the agent's
 * login wins.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "ssh_key"` / `"ssh"`; registered in ../registry.ts. */
export const sshKeyCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "ssh_key",
  aliases: ["ssh"],
  doc:
    "SSH login material in the secret store: private key (with optional passphrase) or password, plus an optional " +
    "`ssh-keyscan` line pinning the upstream host key.",
  discriminators: ["user"],
  fields: {
    user: {
      type: "string",
      doc:
        "Dispatch key: the agent login name this credential serves when a profile binds several SSH credentials at one " +
        "endpoint. It does not change the user sent upstream.",
    },
    ...CREDENTIAL_COMMON_FIELDS,
  },
};
