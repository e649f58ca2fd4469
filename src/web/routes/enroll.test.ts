/**
 * Enrollment against a real gateway with `gateway { wireguard {} }`: codes,
 * the polling secret, approval allocating distinct addresses (by id and by
 * code through the CLI), blocking removing the WireGuard peer, /info, and
 * the in-tunnel agent server's allowlist. No root needed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { startGateway, type RunningGateway } from "../../gateway/gateway.js";
import { createLogger } from "../../gateway/log.js";
import { freePort } from "../../testing/net.js";
import { adminToken } from "../../testing/admin-token.js";
import { generateKeyBase64, publicKeyFromPrivate } from "../../gateway/transport/wireguard/noise.js";
import { main } from "../../cli/main.js";
import { createAgentServer } from "../agent.js";
import { ENROLL_SECRET_HEADER } from "../api.js";
import { CODE_ALPHABET } from "./enroll.js";

let gw: RunningGateway;
let base = "";
let token = "";
let dir = "";

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
const admin = () => ({ authorization: `Bearer ${token}` });
const newKey = () => publicKeyFromPrivate(generateKeyBase64());

describe("device enrollment (gateway with wireguard)", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-enroll-"));
    const [port, wgPort] = [await freePort(), await freePort()];
    const cfg = join(dir, "gw.hcl");
    writeFileSync(
      cfg,
      `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(join(dir, "state"))}
  dashboard_listen = "127.0.0.1:${port}"
  wireguard {
    subnet_cidr = "10.77.0.0/29"
    listen_port = ${wgPort}
    endpoint    = "127.0.0.1:${wgPort}"
  }
}
endpoint "postgres" "db" { host = "db.internal:5432" }
credential "postgres_credential" "app" {
  endpoint    = postgres.db
  user        = "app"
  placeholder = "ph-app-password"
}
profile "dev" { credentials = [postgres_credential.app] }
profile "ops" { credentials = [] }
`,
    );
    gw = await startGateway({ configPath: cfg, log: createLogger({ level: "error" }), watch: false });
    base = `http://127.0.0.1:${port}`;
    token = adminToken(gw.store);
  });
  after(async () => {
    await gw?.close(1000);
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates a pending device with a one-time code; only the polling secret reads its status", async () => {
    const r = await call("POST", "/api/enroll", { name: "laptop-1", publicKey: newKey() });
    assert.equal(r.status, 201);
    const { id, code, secret, caFingerprint } = r.json;
    assert.match(code, new RegExp(`^[${CODE_ALPHABET}]{4}-[${CODE_ALPHABET}]{4}$`));
    assert.equal(caFingerprint, gw.ca.fingerprint256);
    assert.ok(secret.length >= 40);
    assert.equal((await call("GET", `/api/enroll/${id}`)).status, 404, "no secret");
    assert.equal((await call("GET", `/api/enroll/${id}`, undefined, { [ENROLL_SECRET_HEADER]: "x".repeat(43) })).status, 404, "wrong secret");
    assert.equal((await call("GET", `/api/enroll/dev_nope`, undefined, { [ENROLL_SECRET_HEADER]: secret })).status, 404, "other id");
    const st = await call("GET", `/api/enroll/${id}`, undefined, { [ENROLL_SECRET_HEADER]: secret });
    assert.deepEqual(st.json, { status: "pending", code });
    // The secret is stored hashed only.
    assert.ok(!JSON.stringify(gw.store.devices.get(id)).includes(secret));
  });

  it("rejects bad names, bad keys, the gateway's key and duplicate keys", async () => {
    assert.equal((await call("POST", "/api/enroll", { name: "../x", publicKey: newKey() })).status, 400);
    assert.equal((await call("POST", "/api/enroll", { name: "ok", publicKey: "not-a-key" })).status, 400);
    assert.equal((await call("POST", "/api/enroll", { name: "ok", publicKey: gw.wireguard!.publicKey })).status, 400);
    const key = newKey();
    assert.equal((await call("POST", "/api/enroll", { name: "a", publicKey: key })).status, 201);
    assert.equal((await call("POST", "/api/enroll", { name: "b", publicKey: key })).status, 409);
  });

  it("approval allocates distinct addresses; the status carries keys, endpoint, CA, profile and placeholders", async () => {
    const keys = [newKey(), newKey()];
    const made = [];
    for (const [i, k] of keys.entries()) made.push((await call("POST", "/api/enroll", { name: `box-${i}`, publicKey: k })).json);
    const found = await call("GET", `/api/devices?code=${made[0].code.toLowerCase()}`, undefined, admin());
    assert.equal(found.status, 200);
    assert.deepEqual(found.json.map((d: { id: string }) => d.id), [made[0].id], "code filter (case-insensitive)");
    assert.equal((await call("GET", "/api/devices?code=ZZZZ-ZZZZ", undefined, admin())).json.length, 0);
    assert.equal((await call("POST", `/api/devices/${made[0].id}/approve`, { profile: "dev" })).status, 401, "needs auth");
    const a = await call("POST", `/api/devices/${made[0].id}/approve`, { profile: "dev" }, admin());
    const b = await call("POST", `/api/devices/${made[1].id}/approve`, { profile: "ops" }, admin());
    assert.equal(a.status, 200);
    assert.match(a.json.address, /^10\.77\.0\.[2-6]$/);
    assert.match(b.json.address, /^10\.77\.0\.[2-6]$/);
    assert.notEqual(a.json.address, b.json.address);
    const again = await call("POST", `/api/devices/${made[0].id}/approve`, { profile: "ops" }, admin());
    assert.equal(again.json.address, a.json.address, "re-approval keeps the address");
    await call("POST", `/api/devices/${made[0].id}/approve`, { profile: "dev" }, admin());

    const st = (await call("GET", `/api/enroll/${made[0].id}`, undefined, { [ENROLL_SECRET_HEADER]: made[0].secret })).json;
    assert.equal(st.status, "approved");
    assert.equal(st.address, a.json.address);
    assert.equal(st.gatewayPublicKey, gw.wireguard!.publicKey);
    assert.equal(st.endpoint, `127.0.0.1:${gw.wireguard!.port}`);
    assert.equal(st.gatewayAddress, "10.77.0.1");
    assert.deepEqual(st.dns, ["10.77.0.1"]);
    assert.equal(st.caPem, gw.ca.certPem);
    assert.equal(st.profile, "dev");
    assert.equal(st.env.PGPASSWORD, "ph-app-password");
    assert.equal(st.env.PGUSER, "app");
    assert.equal(st.env.CLAWPATROL_PLACEHOLDER_APP, "ph-app-password");

    // Both are WireGuard peers now, each with its own /32.
    const peers = () => gw.wireguard!.device.peers().filter((p) => keys.includes(p.publicKey));
    assert.deepEqual(peers().map((p) => p.allowedIps[0]).sort(), [a.json.address, b.json.address].map((x: string) => `${x}/32`).sort());
    const flows = gw.wireguard!.peers().find((p) => p.publicKey === keys[0]);
    assert.equal(flows?.profile, "dev");
    assert.equal(flows?.device, "box-0");

    // Blocking removes the peer at once; the device sees "blocked".
    assert.equal((await call("POST", `/api/devices/${made[1].id}/block`, undefined, admin())).status, 200);
    assert.deepEqual(peers().map((p) => p.publicKey), [keys[0]]);
    const blocked = await call("GET", `/api/enroll/${made[1].id}`, undefined, { [ENROLL_SECRET_HEADER]: made[1].secret });
    assert.deepEqual(blocked.json, { status: "blocked" });
    // Deleting removes it too.
    assert.equal((await call("DELETE", `/api/devices/${made[0].id}`, undefined, admin())).status, 200);
    assert.equal(peers().length, 0);
  });

  it("409 when the subnet is full", async () => {
    // /29: .2-.6 are assignable; fill the rest.
    let full = false;
    for (let i = 0; i < 6 && !full; i++) {
      const e = (await call("POST", "/api/enroll", { name: `fill-${i}`, publicKey: newKey() })).json;
      const r = await call("POST", `/api/devices/${e.id}/approve`, { profile: "ops" }, admin());
      if (r.status === 409) {
        full = true;
        assert.match(r.json.error, /no free address/);
      } else assert.equal(r.status, 200);
    }
    assert.ok(full, "the subnet ran out");
  });

  it("/info shows the WireGuard facts", async () => {
    const info = (await call("GET", "/info")).json;
    assert.equal(info.wireguard.public_key, gw.wireguard!.publicKey);
    assert.equal(info.wireguard.address, "10.77.0.1");
    assert.equal(info.wireguard.subnet, "10.77.0.0/29");
    assert.ok(!JSON.stringify(info).includes(gw.store.settings.get("wireguard.private_key")!), "never the private key");
  });

  it("the in-tunnel agent server serves only the agent-facing paths", async () => {
    const agent = createAgentServer({
      policy: () => gw.policy(),
      store: gw.store,
      approvals: gw.approvals,
      subscribeActions: () => () => {},
      flushAudit: () => {},
      reload: () => false,
      ca: gw.ca,
      listeners: () => [],
      configPath: "",
      startedAt: 0,
      version: "t",
      log: createLogger({ level: "error" }),
    });
    const get = (path: string, extra = "") =>
      new Promise<string>((resolve) => {
        let out = "";
        // The server side of a tunnel connection: what the agent server writes lands in `out`.
        const conn = new Duplex({
          read() {},
          write(c, _e, cb) {
            out += String(c);
            cb();
          },
          final(cb) {
            cb();
            resolve(out);
          },
        });
        agent.handleConnection(conn);
        conn.push(`GET ${path} HTTP/1.1\r\nHost: 10.77.0.1\r\nConnection: close\r\n${extra}\r\n`);
        setTimeout(() => resolve(out), 1000);
      });
    assert.match(await get("/ca.crt"), /^HTTP\/1\.1 200[\s\S]*BEGIN CERTIFICATE/);
    assert.match(await get("/info"), /^HTTP\/1\.1 200/);
    for (const p of ["/api/devices", "/api/state", "/api/login", "/api/setup", "/", "/login", "/api/config"]) {
      assert.match(await get(p), /^HTTP\/1\.1 404/, p);
    }
    const e = (await call("POST", "/api/enroll", { name: "tun", publicKey: newKey() })).json;
    assert.match(await get(`/api/enroll/${e.id}`, `${ENROLL_SECRET_HEADER}: ${e.secret}\r\n`), /^HTTP\/1\.1 200[\s\S]*"pending"/);
    agent.close();
  });

  it("clawpatrol join + clawpatrol devices approve <code> (CLI, in-process)", async () => {
    // Free addresses first (the previous test filled the subnet).
    for (const d of gw.store.devices.list()) gw.store.devices.delete(d.id);
    const cfgDir = join(dir, "device");
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) };
    const wgConf = join(dir, "wg", "clawpatrol.conf");
    const joining = main(["join", base, "--name", "cli-box", "--config-dir", cfgDir, "--poll-ms", "100", "--timeout", "20", "--whole-machine", "--out", wgConf], io);
    let code = "";
    for (let i = 0; i < 100 && !code; i++) {
      await new Promise((r) => setTimeout(r, 50));
      code = /enrollment code:\s+(\S+)/.exec(out.join(""))?.[1] ?? "";
    }
    assert.ok(code, out.join(""));
    assert.match(out.join(""), new RegExp(`CA fingerprint:\\s+${gw.ca.fingerprint256}`));
    const opOut: string[] = [];
    const opIo = { stdout: (t: string) => opOut.push(t), stderr: (t: string) => opOut.push(t) };
    assert.equal(await main(["devices", "approve", code, "--profile", "dev", "--gateway", base, "--token", token], opIo), 0, opOut.join(""));
    assert.match(opOut.join(""), /approved cli-box .* address 10\.77\.0\.2/);
    assert.match(opOut.join(""), new RegExp(gw.ca.fingerprint256));
    assert.equal(await joining, 0, out.join(""));
    const state = JSON.parse(readFileSync(join(cfgDir, "device.json"), "utf8"));
    assert.equal(state.address, "10.77.0.2");
    assert.equal(state.profile, "dev");
    assert.equal(state.gatewayPublicKey, gw.wireguard!.publicKey);
    assert.equal(statSync(join(cfgDir, "device.json")).mode & 0o777, 0o600);
    assert.equal(statSync(cfgDir).mode & 0o777, 0o700);
    assert.ok(readFileSync(join(cfgDir, "ca-bundle.pem"), "utf8").includes(gw.ca.certPem.trim()));
    // --whole-machine: a standard wg-quick config, 0600
    const conf = readFileSync(wgConf, "utf8");
    assert.match(conf, new RegExp(`PrivateKey = ${state.privateKey.replace(/[+/]/g, "\\$&")}`));
    assert.match(conf, /Address = 10\.77\.0\.2\/32/);
    assert.match(conf, /DNS = 10\.77\.0\.1/);
    assert.ok(conf.includes(`PublicKey = ${gw.wireguard!.publicKey}`));
    assert.ok(conf.includes(`Endpoint = 127.0.0.1:${gw.wireguard!.port}`));
    assert.match(conf, /AllowedIPs = 0\.0\.0\.0\/0/);
    assert.equal(statSync(wgConf).mode & 0o777, 0o600);
    // env pushdown
    const envOut: string[] = [];
    assert.equal(await main(["env", "--config-dir", cfgDir], { stdout: (t) => envOut.push(t), stderr: (t) => envOut.push(t) }), 0);
    assert.match(envOut.join(""), /export SSL_CERT_FILE='.*ca-bundle\.pem'/);
    assert.match(envOut.join(""), /export PGPASSWORD='ph-app-password'/);
    // list + block by the CLI
    const listOut: string[] = [];
    assert.equal(await main(["devices", "list", "--gateway", base, "--token", token], { stdout: (t) => listOut.push(t), stderr: (t) => listOut.push(t) }), 0);
    assert.match(listOut.join(""), /cli-box\s+active\s+dev\s+10\.77\.0\.2/);
    assert.equal(await main(["devices", "block", state.enrollmentId, "--gateway", base, "--token", token], { stdout: () => {}, stderr: () => {} }), 0);
    assert.equal(gw.store.devices.get(state.enrollmentId)?.status, "blocked");
    // uninstall removes the state
    assert.equal(await main(["uninstall", "--config-dir", cfgDir], { stdout: () => {}, stderr: () => {} }), 0);
    assert.throws(() => statSync(join(cfgDir, "device.json")));
    assert.throws(() => statSync(wgConf), "uninstall removes the wg-quick config it wrote");
  });
});
