/** `clawpatrol status`: device state, gateway reachability, enrollment status, last handshake. */
import { readdirSync } from "node:fs";
import type { CliIO } from "./io.js";
import { CONFIG_DIR_HELP, deviceCommand } from "./device-cmd.js";
import { enrollStatus, gatewayInfo } from "../device/client.js";
import { loadState, statePath } from "../device/state.js";
import { have, latestHandshake } from "../device/wg-go.js";

const USAGE = `usage: clawpatrol status [--config-dir DIR]

Shows this device's enrollment (name, address, profile, gateway), whether the
gateway answers, what it says about this device (approved / pending /
blocked), and the last WireGuard handshake of running \`clawpatrol run\`s and
of a wg-quick \`clawpatrol\` interface. Exit 0 when the device is approved and
the gateway reachable, 1 otherwise.

${CONFIG_DIR_HELP}`;

/** WireGuard interfaces clawpatrol may have up: wg-quick's `clawpatrol` and `run`s' `cpr*` (uapi sockets). */
function interfaces(): string[] {
  try {
    return readdirSync("/var/run/wireguard")
      .filter((f) => f.endsWith(".sock"))
      .map((f) => f.slice(0, -5))
      .filter((n) => n === "clawpatrol" || /^cpr[0-9a-f]{8}$/.test(n));
  } catch {
    return [];
  }
}

export function run(argv: string[], io: CliIO): Promise<number> {
  return deviceCommand("status", USAGE, argv, io, {}, async ({ dir }) => {
    const s = loadState(dir);
    const out = (l: string) => io.stdout(`${l}\n`);
    if (!s) {
      out(`not joined (no ${statePath(dir)}); run \`clawpatrol join <gateway-url>\``);
      return 1;
    }
    out(`device:        ${s.name} (${s.status})`);
    out(`gateway:       ${s.gatewayUrl}`);
    if (s.address) out(`address:       ${s.address}`);
    if (s.profile) out(`profile:       ${s.profile}`);
    if (s.endpoint) out(`endpoint:      ${s.endpoint}`);
    out(`CA:            ${s.caFingerprint}`);
    if (s.wgQuickPath) out(`wg-quick:      ${s.wgQuickPath}`);
    let ok = s.status === "active";
    try {
      await gatewayInfo(s.gatewayUrl);
      out("reachable:     yes");
      try {
        const st = await enrollStatus(s.gatewayUrl, s.enrollmentId, s.enrollSecret);
        out(`enrollment:    ${st.status}${st.status === "approved" && st.profile !== s.profile ? ` (profile now ${st.profile})` : ""}`);
        if (st.status !== "approved") ok = false;
      } catch (e) {
        out(`enrollment:    unknown to the gateway (${(e as Error).message})`);
        ok = false;
      }
    } catch (e) {
      out(`reachable:     no (${(e as Error).message})`);
      ok = false;
    }
    if (s.gatewayPublicKey && have("wg")) {
      const ifs = interfaces();
      if (ifs.length === 0) out("handshake:     no tunnel up (use `clawpatrol run -- <cmd>` or wg-quick)");
      for (const i of ifs) {
        const t = await latestHandshake(i, s.gatewayPublicKey).catch(() => 0);
        out(`handshake:     ${i}: ${t > 0 ? `${Math.round(Date.now() / 1000 - t)} s ago (${new Date(t * 1000).toISOString()})` : "none yet"}`);
      }
    }
    return ok ? 0 : 1;
  });
}
