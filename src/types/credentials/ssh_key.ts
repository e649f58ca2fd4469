/**
 * `credential "ssh_key"` (older name: `ssh`): the key, password and
 * optional host-key pin the gateway uses to log in upstream on SSH
 * endpoints and for `ssh_port_forward` tunnels. The user name is the
 * agent's own; the credential never overrides it.
 *
 * Dispatch is by that user name: when a profile binds several SSH
 * credentials at one endpoint, the one whose `user` matches the agent's
 * login wins.
 *
 * Slots (docs/credentials.md, "Multi-slot credentials"): the primary slot
 * is the private key (`CLAWPATROL_SECRET_<NAME>`, usually `@/path/id_ed25519`);
 * `passphrase`, `password` and `host_pubkey` are
 * `CLAWPATROL_SECRET_<NAME>_PASSPHRASE` / `_PASSWORD` / `_HOST_PUBKEY`. A key
 * or a password is required; the pin is optional (without it any upstream
 * host key is accepted and its fingerprint logged).
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { PRIMARY_SLOT } from "./http.js";

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
  sshAuth: {
    slots: [
      { name: PRIMARY_SLOT, primary: true, doc: "Private key, OpenSSH or PEM format (`@/path/to/key` reads a file)." },
      { name: "passphrase", doc: "Passphrase of an encrypted private key. Optional." },
      { name: "password", doc: "Password login, when there is no key (or the key is refused). Optional." },
      { name: "host_pubkey", doc: "Pinned upstream host key: an `ssh-keyscan` line or `type base64`. Optional." },
    ],
    resolve(ctx) {
      const privateKey = ctx.secret.get();
      const password = ctx.secret.get("password");
      if (!privateKey && !password) return { ok: false, error: 'neither a private key (primary slot) nor slot "password" is set' };
      const passphrase = ctx.secret.get("passphrase");
      const hostPubkey = ctx.secret.get("host_pubkey");
      return {
        ok: true,
        auth: {
          ...(privateKey ? { privateKey } : {}),
          ...(passphrase ? { passphrase } : {}),
          ...(password ? { password } : {}),
          ...(hostPubkey ? { hostPubkey } : {}),
        },
      };
    },
  },
};
