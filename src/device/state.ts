/**
 * The enrolled device's state on disk, in `~/.config/clawpatrol/`
 * (`$XDG_CONFIG_HOME/clawpatrol`, or `$CLAWPATROL_CONFIG_DIR` /
 * `--config-dir`): `device.json` (0600: WireGuard private key, tunnel
 * address, gateway key and endpoint, profile, enrollment id and polling
 * secret), `gateway-ca.pem` (the gateway CA) and `ca-bundle.pem` (system
 * roots + the gateway CA, what the env pushdown points at). The directory is
 * 0700. Writes are atomic (temp file + rename).
 */
import { rootCertificates } from "node:tls";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface DeviceState {
  version: 1;
  /** "pending" while waiting for approval (join can resume), "active" once approved. */
  status: "pending" | "active";
  gatewayUrl: string;
  name: string;
  enrollmentId: string;
  enrollSecret: string;
  privateKey: string;
  publicKey: string;
  /** Enrollment code (pending). */
  code?: string;
  /** CA fingerprint shown at enrollment; the approved CA must match it. */
  caFingerprint: string;
  address?: string;
  gatewayPublicKey?: string;
  endpoint?: string;
  gatewayAddress?: string;
  dns?: string[];
  agentUrl?: string;
  caPem?: string;
  profile?: string;
  /** Credential placeholders of the profile (never real secrets). */
  env?: Record<string, string>;
  /** wg-quick config written by `join --whole-machine` (removed by uninstall). */
  wgQuickPath?: string;
  joinedAt: number;
}

export type ActiveState = DeviceState & Required<Pick<DeviceState, "address" | "gatewayPublicKey" | "endpoint" | "gatewayAddress" | "caPem" | "profile">>;

export function configDir(override?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (override) return override;
  if (env.CLAWPATROL_CONFIG_DIR) return env.CLAWPATROL_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "clawpatrol");
}

export const statePath = (dir: string) => join(dir, "device.json");
export const caPath = (dir: string) => join(dir, "gateway-ca.pem");
export const bundlePath = (dir: string) => join(dir, "ca-bundle.pem");

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function saveState(dir: string, state: DeviceState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeAtomic(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
  if (state.caPem) {
    writeAtomic(caPath(dir), state.caPem.endsWith("\n") ? state.caPem : `${state.caPem}\n`);
    writeAtomic(bundlePath(dir), caBundle(state.caPem));
  }
}

/** The saved state, undefined when none; throws a readable error for a damaged file. */
export function loadState(dir: string): DeviceState | undefined {
  const file = statePath(dir);
  if (!existsSync(file)) return undefined;
  let s: DeviceState;
  try {
    s = JSON.parse(readFileSync(file, "utf8")) as DeviceState;
  } catch (e) {
    throw new Error(`${file} is damaged (${(e as Error).message}); run \`clawpatrol uninstall\` and join again`);
  }
  if (s.version !== 1 || typeof s.privateKey !== "string") throw new Error(`${file} is not a clawpatrol device state`);
  return s;
}

/** The active state or a readable error telling what to do. */
export function requireActive(dir: string): ActiveState {
  const s = loadState(dir);
  if (!s) throw new Error(`this machine has not joined a gateway (no ${statePath(dir)}); run \`clawpatrol join <gateway-url>\``);
  if (s.status !== "active" || !s.address || !s.gatewayPublicKey || !s.endpoint || !s.caPem || !s.gatewayAddress) {
    throw new Error("the enrollment is not approved yet; run `clawpatrol join` again to wait for it");
  }
  return s as ActiveState;
}

export function removeState(dir: string): string[] {
  const removed: string[] = [];
  for (const f of [statePath(dir), caPath(dir), bundlePath(dir)]) {
    if (existsSync(f)) {
      rmSync(f, { force: true });
      removed.push(f);
    }
  }
  return removed;
}

const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"];

/** System roots (the distribution bundle, else Node's) followed by the gateway CA. */
export function caBundle(gatewayCaPem: string): string {
  let system = "";
  for (const f of SYSTEM_BUNDLES) {
    try {
      system = readFileSync(f, "utf8");
      break;
    } catch {
      /* next */
    }
  }
  if (system === "") system = rootCertificates.join("\n");
  const trim = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
  return `${trim(system)}# Claw Patrol gateway CA\n${trim(gatewayCaPem.trim())}`;
}

/** SHA-256 fingerprint of a PEM certificate, as the gateway prints it ("AB:CD:..."). */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
