/**
 * The userspace WireGuard device against real WireGuard: wireguard-go in a
 * network namespace as a plain client (a–c), plus in-process checks with a
 * raw initiator for what a well-behaved client never does (d–f), and key
 * compatibility with wireguard-tools (g).
 *
 * Needs root, ip, wg, wireguard-go and /dev/net/tun; skipped without them
 * unless CI is set, where their absence fails the suite.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { WireGuardDevice } from "../src/gateway/transport/wireguard/device.js";
import { generateKeyBase64, publicKeyFromPrivate } from "../src/gateway/transport/wireguard/noise.js";
import { RawInitiator, buildUdp4, parseUdp4 } from "../src/gateway/transport/wireguard/test-packets.js";
import { createWgNetns, wgNetnsUnavailable, type WgNetns } from "../src/testing/wg-netns.js";

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const unavailable = wgNetnsUnavailable();
if (unavailable && process.env.CI) {
  it("wireguard-go interop prerequisites are present (CI)", () => {
    assert.fail(`cannot run WireGuard interop under CI: ${unavailable}`);
  });
}

describe("wireguard-go in a netns against the userspace device", { skip: unavailable ?? false }, () => {
  const TUNNEL_IP = "10.77.0.2";
  let device: WireGuardDevice;
  let ns: WgNetns | undefined;
  let clientPub = "";
  const inbound: Buffer[] = [];

  before(async () => {
    device = new WireGuardDevice({ privateKey: generateKeyBase64() });
    device.onPacket((_peer, pkt) => inbound.push(Buffer.from(pkt)));
    const clientPriv = (await execFileP("wg", ["genkey"])).stdout.trim();
    clientPub = publicKeyFromPrivate(clientPriv);
    const port = await device.listen(0, "0.0.0.0");
    device.addPeer({ publicKey: clientPub, allowedIps: [`${TUNNEL_IP}/32`], name: "wireguard-go" });
    ns = await createWgNetns({
      peerPublicKey: device.publicKey,
      peerPort: port,
      privateKey: clientPriv,
      tunnelIp: TUNNEL_IP,
      persistentKeepalive: 1,
    });
  });

  after(async () => {
    await ns?.cleanup();
    device?.close();
  });

  it("(a) handshake with wireguard-go completes on both sides", async () => {
    const ts = await waitFor("wg latest-handshakes", () => ns!.latestHandshake().then((t) => (t > 0 ? t : 0)));
    assert.ok(ts > 0);
    const peer = await waitFor("device peer session", () => device.peers().find((p) => p.publicKey === clientPub && p.lastHandshake));
    assert.equal(peer.name, "wireguard-go");
    assert.ok(peer.hasSession);
    assert.match(peer.endpoint ?? "", new RegExp(`^${ns!.nsAddress.replace(/\./g, "\\.")}:\\d+$`));
    assert.ok(peer.rxBytes > 0 && peer.txBytes > 0);
  });

  it("(b) a UDP datagram sent inside the namespace arrives at onPacket as IPv4/UDP", async () => {
    await ns!.exec("bash", ["-c", "echo hi > /dev/udp/10.99.0.1/5000"]);
    const pkt = await waitFor("inner packet", () => inbound.map(parseUdp4).find((u) => u && u.dstPort === 5000));
    assert.equal(pkt.src, TUNNEL_IP);
    assert.equal(pkt.dst, "10.99.0.1");
    assert.equal(pkt.payload.toString(), "hi\n");
    assert.ok(pkt.headerChecksumOk);
  });

  it("(c) a packet sent with device.send is accepted by the namespace's Linux stack", async () => {
    const script =
      "const s=require('dgram').createSocket('udp4');" +
      "s.on('message',(m,r)=>{console.log(JSON.stringify({m:m.toString(),a:r.address,p:r.port}));process.exit(0)});" +
      "s.bind(6000,'0.0.0.0',()=>console.log('ready'));setTimeout(()=>process.exit(3),8000)";
    const child = ns!.spawn(process.execPath, ["-e", script]);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await waitFor("listener ready", () => out.includes("ready"));
      const reply = buildUdp4("10.99.0.1", 5000, TUNNEL_IP, 6000, Buffer.from("pong"));
      // Resend until the listener reports it (the first copy may race the bind).
      const got = await waitFor("namespace listener received the datagram", () => {
        if (out.includes('"m"')) return out;
        assert.ok(device.send(clientPub, reply));
        return null;
      });
      const line = got.split("\n").find((l) => l.startsWith("{"))!;
      assert.deepEqual(JSON.parse(line), { m: "pong", a: "10.99.0.1", p: 5000 });
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("wireguard-go as responder, with a preshared key", { skip: unavailable ?? false }, () => {
  const TUNNEL_IP = "10.77.0.6";
  const WG_PORT = 51820;
  let device: WireGuardDevice;
  let ns: WgNetns | undefined;
  let clientPub = "";
  const inbound: Buffer[] = [];

  before(async () => {
    device = new WireGuardDevice({ privateKey: generateKeyBase64() });
    device.onPacket((_peer, pkt) => inbound.push(Buffer.from(pkt)));
    const clientPriv = generateKeyBase64();
    clientPub = publicKeyFromPrivate(clientPriv);
    const psk = (await execFileP("wg", ["genpsk"])).stdout.trim();
    const port = await device.listen(0, "0.0.0.0");
    ns = await createWgNetns({
      peerPublicKey: device.publicKey,
      peerPort: port,
      privateKey: clientPriv,
      presharedKey: psk,
      tunnelIp: TUNNEL_IP,
      persistentKeepalive: 0,
      listenPort: WG_PORT,
    });
    device.addPeer({
      publicKey: clientPub,
      presharedKey: psk,
      allowedIps: [`${TUNNEL_IP}/32`],
      endpoint: `${ns.nsAddress}:${WG_PORT}`,
    });
  });

  after(async () => {
    await ns?.cleanup();
    device?.close();
  });

  it("(a) the device initiates the handshake (psk) and its queued packet is delivered in the namespace", async () => {
    assert.equal(await ns!.latestHandshake(), 0);
    const script =
      "const s=require('dgram').createSocket('udp4');" +
      "s.on('message',(m,r)=>{s.send(Buffer.from('echo:'+m),r.port,r.address,()=>process.exit(0))});" +
      "s.bind(6000,'0.0.0.0',()=>console.log('ready'));setTimeout(()=>process.exit(3),8000)";
    const child = ns!.spawn(process.execPath, ["-e", script]);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await waitFor("listener ready", () => out.includes("ready"));
      // No session yet: this packet is queued, a handshake initiation goes to wireguard-go.
      assert.ok(device.send(clientPub, buildUdp4("10.99.0.1", 5001, TUNNEL_IP, 6000, Buffer.from("ping"))));
      const echo = await waitFor("echo through the tunnel", () =>
        inbound.map(parseUdp4).find((u) => u && u.dstPort === 5001),
      );
      assert.equal(echo.payload.toString(), "echo:ping");
      assert.equal(echo.src, TUNNEL_IP);
      assert.ok((await ns!.latestHandshake()) > 0);
      const st = device.peers()[0]!;
      assert.ok(st.lastHandshake && st.hasSession);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("wireguard-go against a device under load", { skip: unavailable ?? false }, () => {
  let device: WireGuardDevice;
  let ns: WgNetns | undefined;

  after(async () => {
    await ns?.cleanup();
    device?.close();
  });

  it("(f) wireguard-go accepts the device's cookie reply and completes the handshake with mac2", async () => {
    device = new WireGuardDevice({ privateKey: generateKeyBase64(), underLoadThreshold: 0 });
    const clientPriv = generateKeyBase64();
    const port = await device.listen(0, "0.0.0.0");
    device.addPeer({ publicKey: publicKeyFromPrivate(clientPriv), allowedIps: ["10.77.0.10/32"] });
    ns = await createWgNetns({
      peerPublicKey: device.publicKey,
      peerPort: port,
      privateKey: clientPriv,
      tunnelIp: "10.77.0.10",
      persistentKeepalive: 1,
    });
    // First initiation → cookie reply; wireguard-go retries after REKEY_TIMEOUT (5 s) with mac2.
    await waitFor("cookie reply", () => device.stats.cookieRepliesSent > 0, 5_000);
    const st = await waitFor("handshake after cookie", () => device.peers().find((p) => p.lastHandshake), 15_000);
    assert.ok(st.hasSession);
    assert.ok((await ns.latestHandshake()) > 0);
  });
});

describe("userspace device against a raw in-process initiator", () => {
  let device: WireGuardDevice;
  let port = 0;
  const inbound: { peer: string; pkt: Buffer }[] = [];

  before(async () => {
    device = new WireGuardDevice({ privateKey: generateKeyBase64() });
    device.onPacket((peer, pkt) => inbound.push({ peer: peer.publicKey, pkt: Buffer.from(pkt) }));
    port = await device.listen(0, "127.0.0.1");
  });
  after(() => device.close());

  it("(d) a datagram whose inner source is outside the peer's allowed IPs is dropped", async () => {
    const client = new RawInitiator(device.key.publicKey, port);
    const other = generateKeyBase64();
    try {
      await client.bind();
      device.addPeer({ publicKey: client.key.publicKeyBase64, allowedIps: ["10.77.1.2/32"], name: "d" });
      device.addPeer({ publicKey: publicKeyFromPrivate(other), allowedIps: ["10.77.1.3/32"], name: "other" });
      await client.handshake();
      const before = device.stats.dropped["allowed-ips"] ?? 0;
      client.sendPacket(buildUdp4("10.77.1.3", 1, "10.99.0.1", 53, Buffer.from("spoof other peer")));
      client.sendPacket(buildUdp4("192.168.7.7", 1, "10.99.0.1", 53, Buffer.from("spoof outside")));
      client.sendPacket(buildUdp4("10.77.1.2", 1, "10.99.0.1", 53, Buffer.from("legit")));
      const legit = await waitFor("legit packet", () => inbound.find((i) => i.peer === client.key.publicKeyBase64));
      assert.equal(parseUdp4(legit.pkt)!.payload.toString(), "legit");
      await sleep(50);
      assert.equal(inbound.filter((i) => i.peer === client.key.publicKeyBase64).length, 1);
      assert.equal((device.stats.dropped["allowed-ips"] ?? 0) - before, 2);
    } finally {
      client.close();
    }
  });

  it("(e) replayed transport packets are dropped", async () => {
    const client = new RawInitiator(device.key.publicKey, port);
    try {
      await client.bind();
      device.addPeer({ publicKey: client.key.publicKeyBase64, allowedIps: ["10.77.2.2/32"], name: "e" });
      await client.handshake();
      const before = device.stats.dropped["replay"] ?? 0;
      const msg = client.sendPacket(buildUdp4("10.77.2.2", 1, "10.99.0.1", 9, Buffer.from("once")));
      await waitFor("first copy", () => inbound.find((i) => i.peer === client.key.publicKeyBase64));
      client.raw(msg);
      client.raw(msg);
      await sleep(100);
      assert.equal(inbound.filter((i) => i.peer === client.key.publicKeyBase64).length, 1);
      assert.equal((device.stats.dropped["replay"] ?? 0) - before, 2);
    } finally {
      client.close();
    }
  });

  it("(f) under load the device answers with a cookie reply, and a handshake with a valid mac2 succeeds", async () => {
    const loaded = new WireGuardDevice({ privateKey: generateKeyBase64(), underLoadThreshold: 0 });
    const lport = await loaded.listen(0, "127.0.0.1");
    const client = new RawInitiator(loaded.key.publicKey, lport);
    try {
      await client.bind();
      loaded.addPeer({ publicKey: client.key.publicKeyBase64, allowedIps: ["10.77.3.2/32"] });
      const first = client.sendInitiation();
      const reply = await client.next();
      assert.ok(reply, "expected a cookie reply");
      assert.equal(reply[0], 3);
      assert.equal(reply.length, 64);
      assert.equal(reply.readUInt32LE(4), first.state.localIndex);
      assert.equal(loaded.stats.cookieRepliesSent, 1);
      assert.equal(loaded.peers()[0]!.lastHandshake, null);
      assert.ok(client.takeCookie(reply, first.mac1), "cookie reply must open with the mac1 it answers");
      await sleep(30); // a new TAI64N label (timestamps are whitened to ~16 ms)
      const kp = await client.handshake(); // now with mac2
      const got: Buffer[] = [];
      loaded.onPacket((_p, pkt) => got.push(pkt));
      client.sendPacket(buildUdp4("10.77.3.2", 1, "10.99.0.1", 9, Buffer.from("after cookie")));
      await waitFor("packet after cookie handshake", () => got.length > 0);
      assert.ok(kp);
      assert.ok(loaded.peers()[0]!.lastHandshake);
    } finally {
      client.close();
      loaded.close();
    }
  });

  it("(g) keys are compatible with wg genkey / wg pubkey", { skip: unavailable === "wg not installed" }, async () => {
    const wgPub = async (priv: string) => {
      const p = execFile("wg", ["pubkey"]);
      const out = new Promise<string>((resolve, reject) => {
        let s = "";
        p.stdout!.on("data", (d: Buffer) => (s += d.toString()));
        p.on("close", (code) => (code === 0 ? resolve(s.trim()) : reject(new Error(`wg pubkey exit ${code}`))));
      });
      p.stdin!.end(priv + "\n");
      return out;
    };
    for (let i = 0; i < 5; i++) {
      const fromWg = (await execFileP("wg", ["genkey"])).stdout.trim();
      assert.equal(publicKeyFromPrivate(fromWg), await wgPub(fromWg));
      const ours = generateKeyBase64();
      assert.equal(ours.length, 44);
      assert.equal(publicKeyFromPrivate(ours), await wgPub(ours));
    }
    // Unclamped private keys are clamped by X25519 itself, as wg does.
    const unclamped = Buffer.alloc(32, 0xff).toString("base64");
    assert.equal(publicKeyFromPrivate(unclamped), await wgPub(unclamped));
  });
});
