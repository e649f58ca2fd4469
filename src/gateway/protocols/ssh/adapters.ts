/**
 * Adapters from the gateway's real modules to the SSH runtime's ports, for
 * the composition root: host keys from the settings table (memoised, the
 * fingerprint logged once per endpoint), and upstream login material
 * through the credential type's `sshAuth` hook — the runtime never names a
 * credential type.
 */
import type { CompiledPolicy } from "../../../policy/compiled.js";
import type { SshAuthResult } from "../../../types/credentials/ssh-auth.js";
import type { SecretSource } from "../http/adapters.js";
import { loadOrCreateHostKey, type GatewayHostKey, type HostKeySettings } from "./hostkey.js";
import type { InterceptLog } from "./ports.js";

/** The `hostKey` port: persisted per endpoint, minted on first use, fingerprint logged. */
export function hostKeysFrom(settings: HostKeySettings, log: InterceptLog): (endpointKey: string) => GatewayHostKey {
  const memo = new Map<string, GatewayHostKey>();
  return (endpointKey) => {
    let k = memo.get(endpointKey);
    if (!k) {
      k = loadOrCreateHostKey(settings, endpointKey);
      memo.set(endpointKey, k);
      log.info("ssh endpoint host key", { endpoint: endpointKey, fingerprint: k.fingerprint, publicKey: k.publicKey });
    }
    return k;
  };
}

/** The `upstreamAuth` port over the credential types' `sshAuth` hooks and the secret resolver. */
export function sshAuthFrom(policy: () => CompiledPolicy, secrets: SecretSource): (credential: string) => SshAuthResult {
  return (credential) => {
    const decl = policy().config.credentials.find((c) => c.name === credential);
    if (!decl) return { ok: false, error: `credential "${credential}" is not in the current config` };
    const hook = decl.spec.sshAuth;
    if (!hook) return { ok: false, error: `credential type "${decl.type}" cannot log in over SSH` };
    try {
      return hook.resolve({ secret: secrets.slotsFor(decl.name), block: decl.block });
    } catch (e) {
      // SecretFileError names the variable and path, never a value.
      return { ok: false, error: e instanceof Error ? e.message : "secret unavailable" };
    }
  };
}
