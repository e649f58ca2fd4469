/**
 * Host keys, both directions.
 *
 * Toward the agent the gateway *is* the SSH server, so each `ssh` endpoint
 * gets its own ed25519 host key, minted on first use and persisted in the
 * `settings` table (`ssh.hostkey.<endpoint key>`): a restart must not change
 * it, or every agent's `known_hosts` pin would break. Its fingerprint
 * (`SHA256:...`, the form `ssh-keygen -lf` and OpenSSH's prompts print) is
 * logged so operators can pin it.
 *
 * Toward upstream the gateway is the client: a credential may pin the
 * upstream's host key (`host_pubkey` slot). The pin is parsed here, once
 * per connection; a pin that does not parse refuses the connection (a typo
 * must not silently disable the check).
 */
import { createHash } from "node:crypto";
import ssh2 from "ssh2";

const { utils } = ssh2;

/** Where the keys live; `store.settings` fits. */
export interface HostKeySettings {
  get(key: string): string | undefined;
  setIfAbsent(key: string, value: string): string;
}

/** A host key the gateway serves for one endpoint. */
export interface GatewayHostKey {
  /** OpenSSH private key text (what ssh2's `Server` takes). Never logged. */
  privateKey: string;
  /** `ssh-ed25519 AAAA...` — the line for an agent's `known_hosts`. */
  publicKey: string;
  /** `SHA256:<base64>`, as OpenSSH prints it. */
  fingerprint: string;
}

/** The settings key of an endpoint's host key. */
export function hostKeySettingKey(endpointKey: string): string {
  return `ssh.hostkey.${endpointKey}`;
}

/** OpenSSH's fingerprint of a public key blob: SHA-256, base64 without padding. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The endpoint's host key: the stored one, or a new ed25519 key (generated
 * with node:crypto through ssh2's key utilities, which write the OpenSSH
 * format) stored with `setIfAbsent`, so two gateways sharing a state
 * directory agree on one key.
 */
export function loadOrCreateHostKey(settings: HostKeySettings, endpointKey: string): GatewayHostKey {
  const key = hostKeySettingKey(endpointKey);
  let pem = settings.get(key);
  if (pem === undefined) {
    const pair = utils.generateKeyPairSync("ed25519", { comment: `clawpatrol ${endpointKey}` });
    pem = settings.setIfAbsent(key, pair.private);
  }
  const parsed = utils.parseKey(pem);
  if (parsed instanceof Error) throw new Error(`stored SSH host key ${key} is unusable: ${parsed.message}`);
  const blob = parsed.getPublicSSH();
  return { privateKey: pem, publicKey: `${parsed.type} ${blob.toString("base64")}`, fingerprint: fingerprintOf(blob) };
}

/** A pinned upstream host key. */
export interface PinnedHostKey {
  /** Key type as on the wire (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ...). */
  type: string;
  blob: Buffer;
  fingerprint: string;
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/**
 * Parses a pin: an `ssh-keyscan` line (`host type base64`), a
 * `known_hosts`-style line, or plain `type base64 [comment]`. Several lines
 * are allowed (ssh-keyscan prints one per key type) — the first parsable
 * one is the pin. Returns an Error (never throws) when nothing parses; the
 * blob must name the same type as the text before it.
 */
export function parsePinnedHostKey(text: string): PinnedHostKey | Error {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const tokens = line.split(/\s+/);
    for (let i = 0; i + 1 < tokens.length; i++) {
      const type = tokens[i]!;
      if (!KEY_TYPE.test(type)) continue;
      const b64 = tokens[i + 1]!;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
      const blob = Buffer.from(b64, "base64");
      if (blobType(blob) !== type) continue;
      return { type, blob, fingerprint: fingerprintOf(blob) };
    }
  }
  return new Error("host_pubkey is not an ssh-keyscan line or `type base64` public key");
}

/** The key type string a public key blob starts with (RFC 4253 §6.6), or undefined. */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString("latin1");
}

/**
 * The host key algorithms to offer upstream for a pin: only the pinned
 * type, so a server holding several host keys presents the pinned one
 * instead of a different (equally genuine) key we would then refuse.
 */
export function hostKeyAlgorithmsFor(type: string): string[] {
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}
