/**
 * `clawpatrol join`: generate a WireGuard key pair locally (the private key
 * never leaves this machine), enroll with the gateway, show the one-time
 * code and the CA fingerprint, wait for the operator's approval, then store
 * the device state (and, with `--whole-machine`, a wg-quick config).
 *
 * The pending enrollment is saved first, so an interrupted join resumes
 * waiting on the same enrollment when run again.
 */
import { mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { dirname } from "node:path";
import { hostname } from "node:os";
import { generateKeyBase64, publicKeyFromPrivate } from "../gateway/transport/wireguard/noise.js";
import { enroll, enrollStatus, normalizeGatewayUrl } from "./client.js";
import { fingerprintOf, loadState, saveState, type ActiveState, type DeviceState } from "./state.js";
import { DEFAULT_WG_QUICK_PATH, wgQuickConfig } from "./wgquick.js";

export interface JoinOptions {
  gatewayUrl: string;
  dir: string;
  name?: string;
  wholeMachine?: boolean;
  /** wg-quick config path (default /etc/wireguard/clawpatrol.conf). */
  out?: string;
  /** Poll interval (default 2 s) and overall wait (default 15 min). */
  pollMs?: number;
  timeoutMs?: number;
  /** Re-enroll even when this machine already joined. */
  force?: boolean;
  print(line: string): void;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new Error("interrupted"));
    });
  });

function defaultName(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return (h || "device").slice(0, 63);
}

export async function join(o: JoinOptions): Promise<ActiveState> {
  const gateway = normalizeGatewayUrl(o.gatewayUrl);
  let state = loadState(o.dir);
  if (state?.status === "active" && !o.force) {
    throw new Error(`this machine already joined ${state.gatewayUrl} as ${state.name}; run \`clawpatrol uninstall\` first (or pass --force)`);
  }
  if (!state || state.gatewayUrl !== gateway || o.force || (o.name !== undefined && o.name !== state.name)) {
    const privateKey = generateKeyBase64();
    const publicKey = publicKeyFromPrivate(privateKey);
    const name = o.name ?? defaultName();
    const created = await enroll(gateway, name, publicKey);
    state = {
      version: 1,
      status: "pending",
      gatewayUrl: gateway,
      name,
      enrollmentId: created.id,
      enrollSecret: created.secret,
      privateKey,
      publicKey,
      code: created.code,
      caFingerprint: created.caFingerprint,
      joinedAt: Date.now(),
    };
    saveState(o.dir, state);
  } else {
    o.print(`resuming the pending enrollment of ${state.name}`);
  }
  o.print(`enrollment code:    ${state.code}`);
  o.print(`CA fingerprint:     ${state.caFingerprint}`);
  o.print(`ask an operator to run:  clawpatrol devices approve ${state.code} --profile <profile>`);
  o.print("(check that the CA fingerprint they see is the same)");
  o.print("waiting for approval...");

  const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
  for (;;) {
    const st = await enrollStatus(gateway, state.enrollmentId, state.enrollSecret);
    if (st.status === "blocked") throw new Error("the operator blocked this enrollment");
    if (st.status === "approved") {
      // The CA must be the one whose fingerprint was shown at enrollment.
      if (fingerprintOf(st.caPem) !== state.caFingerprint || st.caFingerprint !== state.caFingerprint) {
        throw new Error("the gateway CA changed during enrollment (fingerprint mismatch); not trusting it");
      }
      const endpoint = st.endpoint ?? `${new URL(gateway).hostname}:${st.listenPort}`;
      const active: ActiveState = {
        ...state,
        status: "active",
        address: st.address,
        gatewayPublicKey: st.gatewayPublicKey,
        endpoint,
        gatewayAddress: st.gatewayAddress,
        dns: st.dns,
        agentUrl: st.agentUrl,
        caPem: st.caPem,
        profile: st.profile,
        env: st.env,
      };
      delete active.code;
      if (o.wholeMachine) {
        const out = o.out ?? DEFAULT_WG_QUICK_PATH;
        mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
        writeFileSync(out, wgQuickConfig(active), { mode: 0o600 });
        chmodSync(out, 0o600);
        active.wgQuickPath = out;
      }
      saveState(o.dir, active);
      o.print(`approved: ${active.name} is ${active.address} with profile ${active.profile}`);
      if (active.wgQuickPath) o.print(`wrote ${active.wgQuickPath}; bring the whole machine in with: wg-quick up ${active.wgQuickPath}`);
      o.print(`device state saved in ${o.dir}`);
      return active;
    }
    if (Date.now() > deadline) throw new Error("timed out waiting for approval; run `clawpatrol join` again to keep waiting");
    await sleep(o.pollMs ?? 2000, o.signal);
  }
}

export type { DeviceState };
