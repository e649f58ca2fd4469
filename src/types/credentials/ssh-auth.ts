/**
 * The `sshAuth` hook: credential types that log the gateway in to an SSH
 * upstream (ssh_key). The SSH runtime calls it when it dials an upstream on
 * behalf of an agent and hands the result to its SSH client — it never
 * knows which type produced it, so adding an SSH credential type touches
 * neither the runtime nor the dispatcher.
 */
import type { DecodedBlock } from "../schema.js";
import type { SecretSlots, SlotSpec } from "./http.js";

/** Login material for one upstream SSH connection. Never logged, never sent to the agent. */
export interface SshAuthMaterial {
  /** OpenSSH / PEM private key text. */
  privateKey?: string;
  /** Passphrase of `privateKey`, when it is encrypted. */
  passphrase?: string;
  /** Password login (used when there is no key, or the key is refused). */
  password?: string;
  /**
   * The pinned upstream host key, as an `ssh-keyscan` line
   * (`host ssh-ed25519 AAAA...`) or `type base64 [comment]`. Not a secret,
   * but kept with the credential so a key rotation is one place.
   */
  hostPubkey?: string;
}

export type SshAuthResult = { ok: true; auth: SshAuthMaterial } | { ok: false; error: string };

/** What the hook may use. */
export interface SshAuthContext {
  secret: SecretSlots;
  block: DecodedBlock;
}

/** The `sshAuth` hook of a credential type. */
export interface SshAuthProvider {
  slots: readonly SlotSpec[];
  /**
   * The material for the next upstream login, read fresh each time so a
   * rotated key applies to new connections. Errors never quote a secret.
   */
  resolve(ctx: SshAuthContext): SshAuthResult;
}
