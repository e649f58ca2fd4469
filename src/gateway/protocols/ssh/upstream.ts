/**
 * The SSH client toward the real host: one ssh2 `Client` per (agent
 * connection, credential), dialed lazily on the first allowed channel
 * action — a connection whose every action is denied never touches the
 * upstream.
 *
 * Login uses the credential's `sshAuth` material (private key with optional
 * passphrase, or password) and the agent's own user name. When the
 * credential pins `host_pubkey`, only that key type is offered and any
 * other host key is refused; the refusal reason is kept so the caller can
 * audit it. Error texts are scrubbed of the secret values before anyone
 * sees them (a parser error could quote a bad key).
 */
import ssh2 from "ssh2";
import type { Client as SshClient, ConnectConfig } from "ssh2";
import type { SshAuthMaterial } from "../../../types/credentials/ssh-auth.js";
import { Redactor } from "../../redact.js";
import { fingerprintOf, hostKeyAlgorithmsFor, parsePinnedHostKey } from "./hostkey.js";

const { Client } = ssh2;

export interface UpstreamTarget {
  /** Address to dial (already resolved). */
  address: string;
  port: number;
  /** The name the endpoint claims (for messages only). */
  host: string;
  username: string;
  auth: SshAuthMaterial;
  timeoutMs: number;
}

/** A logged-in upstream connection. */
export interface UpstreamConnection {
  client: SshClient;
  /** `SHA256:...` of the host key the upstream presented. */
  hostKeyFingerprint: string;
}

/** Why an upstream could not be used; `message` is safe to show the agent and to audit. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly kind: "hostkey" | "auth" | "connect" | "config",
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** Connects and logs in; rejects with an {@link UpstreamError}. */
export function connectUpstream(t: UpstreamTarget): Promise<UpstreamConnection> {
  const scrub = new Redactor([t.auth.privateKey, t.auth.passphrase, t.auth.password].filter((s): s is string => !!s));
  let pinned: ReturnType<typeof parsePinnedHostKey> | undefined;
  if (t.auth.hostPubkey !== undefined) {
    pinned = parsePinnedHostKey(t.auth.hostPubkey);
    if (pinned instanceof Error) return Promise.reject(new UpstreamError(pinned.message, "config"));
  }
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented = "";
    let refusal: string | undefined;
    let settled = false;
    const fail = (e: UpstreamError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(e);
    };
    const config: ConnectConfig = {
      host: t.address,
      port: t.port,
      username: t.username,
      readyTimeout: t.timeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer) => {
        presented = fingerprintOf(key);
        if (pinned && !(pinned instanceof Error) && !key.equals(pinned.blob)) {
          refusal = `upstream ${t.host}:${t.port} presented host key ${presented}, not the pinned ${pinned.fingerprint}; refused`;
          return false;
        }
        return true;
      },
      ...(pinned && !(pinned instanceof Error) ? { algorithms: { serverHostKey: hostKeyAlgorithmsFor(pinned.type) as never } } : {}),
      ...(t.auth.privateKey !== undefined ? { privateKey: t.auth.privateKey } : {}),
      ...(t.auth.passphrase !== undefined ? { passphrase: t.auth.passphrase } : {}),
      ...(t.auth.password !== undefined ? { password: t.auth.password } : {}),
    };
    client.on("ready", () => {
      if (settled) return;
      settled = true;
      resolve({ client, hostKeyFingerprint: presented });
    });
    client.on("error", (e: Error & { level?: string }) => {
      if (refusal !== undefined) return fail(new UpstreamError(refusal, "hostkey"));
      const msg = scrub.redactText(e.message);
      if (e.level === "client-authentication") return fail(new UpstreamError(`upstream ${t.host}:${t.port} refused the credential: ${msg}`, "auth"));
      fail(new UpstreamError(`upstream ${t.host}:${t.port}: ${msg}`, "connect"));
    });
    client.on("close", () => fail(new UpstreamError(refusal ?? `upstream ${t.host}:${t.port} closed the connection during login`, refusal ? "hostkey" : "connect")));
    try {
      client.connect(config);
      // Interactive traffic: Nagle + delayed ACKs would add ~40 ms stalls per exchange.
      client.setNoDelay(true);
    } catch (e) {
      // ssh2 throws synchronously for an unparsable private key.
      fail(new UpstreamError(`credential unusable: ${scrub.redactText(e instanceof Error ? e.message : String(e))}`, "config"));
    }
  });
}
