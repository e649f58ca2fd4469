/**
 * What the SSH runtime needs from the rest of the gateway, as narrow ports
 * the composition root wires to real modules (./adapters.ts) and tests wire
 * to fakes — the same pattern as the HTTP runtime (../http/ports.ts).
 */
import type { CompiledPolicy } from "../../../policy/compiled.js";
import type { NewAction } from "../../../store/actions.js";
import type { SshAuthResult } from "../../../types/credentials/ssh-auth.js";
import type { ApprovalsPort, InterceptLog } from "../http/ports.js";
import type { GatewayHostKey } from "./hostkey.js";

export type { ApprovalsPort, InterceptLog } from "../http/ports.js";

/** Bounds of the runtime; all have defaults ({@link DEFAULT_SSH_LIMITS}). */
export interface SshLimits {
  /** Most piped stdin buffered for the pre-gate (bytes); more ⇒ `ssh.stdin` truncated. */
  stdinBuffer: number;
  /** Stdin silence that ends the pre-gate wait without EOF (ms) ⇒ truncated. */
  stdinIdleMs: number;
  /** Longest the pre-gate waits in total, however the bytes trickle (ms) ⇒ truncated. */
  stdinTotalMs: number;
  /** Time for the agent to finish the SSH handshake and log in (ms). */
  handshakeMs: number;
  /** Resolve + connect + authenticate upstream (ms). */
  upstreamConnectMs: number;
}

/** 1 MiB of stdin, 2 s of silence, 30 s overall; 30 s handshake; 15 s upstream login. */
export const DEFAULT_SSH_LIMITS: SshLimits = {
  stdinBuffer: 1024 * 1024,
  stdinIdleMs: 2_000,
  stdinTotalMs: 30_000,
  handshakeMs: 30_000,
  upstreamConnectMs: 15_000,
};

/** Everything the SSH interceptor needs from the gateway. */
export interface SshInterceptDeps {
  /** The current policy (read per action: a hot reload applies to the next channel request). */
  policy(): CompiledPolicy;
  /** The address to dial for a host (`UpstreamResolver.resolve` fits). */
  resolve(host: string): Promise<string>;
  /** The endpoint's persisted host key (minted on first use). */
  hostKey(endpointKey: string): GatewayHostKey;
  /** Login material of a credential (its type's `sshAuth` hook over the secret resolver). */
  upstreamAuth(credential: string): SshAuthResult;
  approvals: ApprovalsPort;
  /** One row per channel action, when it is over (fire and forget; must not throw). */
  audit(row: NewAction): void;
  log: InterceptLog;
  now(): Date;
  limits?: Partial<SshLimits>;
}
