/**
 * The WireGuard transport in-process (no root): a client WireGuardDevice
 * with its own userspace netstack dials through real UDP on loopback.
 * Flows carry the peer's device and profile and the original destination;
 * port 53 and the agent port of the gateway address go to their handlers;
 * other gateway ports and device-to-device traffic are refused; other UDP
 * is dropped; a pending (unapproved) device is not a peer and gets nothing
 * through; a blocked one stops at once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import type { Flow } from "../../flow.js";
import { createNetStack, type UserspaceNetStack } from "../netstack/stack.js";
import { WireGuardDevice } from "./device.js";
import { generateKeyBase64, publicKeyFromPrivate } from "./noise.js";
import { buildUdp4 } from "./test-packets.js";
import { WireGuardTransport, PRIVATE_KEY_SETTING, type TunnelPeer } from "./transport.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** 'close' without events.once's reject-on-'error' (resets are expected here). */
const closed = (s: NodeJS.EventEmitter) => new Promise<void>((r) => s.once("close", () => r()));
async function waitFor<T>(fn: () => T, ms = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error("timed out");
    await sleep(20);
  }
}

interface Row {
  id: string;
  name: string;
  profile: string;
  publicKey: string;
  address: string;
  status: "active" | "pending" | "blocked";
}

describe("WireGuardTransport", () => {
  const settings = new Map<string, string>();
  const rows: Row[] = [];
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  const flows: Flow[] = [];
  const dnsUdp: TunnelPeer[] = [];
  const agent: string[] = [];
  let t: WireGuardTransport;

  /** A client device + netstack at `address`. */
  async function client(address: string) {
    const priv = generateKeyBase64();
    const dev = new WireGuardDevice({ privateKey: priv });
    const stack: UserspaceNetStack = createNetStack({ output: (p) => dev.send(t.publicKey, p), onTcp: () => {}, onUdp: () => {} });
    dev.onPacket((_p, pkt) => stack.input(pkt));
    await dev.listen(0, "127.0.0.1");
    dev.addPeer({ publicKey: t.publicKey, allowedIps: ["0.0.0.0/0"], endpoint: `127.0.0.1:${t.port}` });
    let port = 40000;
    return {
      pub: publicKeyFromPrivate(priv),
      dev,
      stack,
      dial: (host: string, dport: number) => {
        const conn = stack.connect({ address, port: port++ }, { address: host, port: dport });
        conn.on("error", () => {}); // resets are expected (refusals); tests look at 'close' / destroyed
        return conn;
      },
      udp: (host: string, dport: number, payload: string) => dev.send(t.publicKey, buildUdp4(address, 5353, host, dport, Buffer.from(payload))),
      close: () => {
        stack.close();
        dev.close();
      },
    };
  }

  before(async () => {
    t = new WireGuardTransport({
      subnetCidr: "10.88.0.0/24",
      listenPort: 0,
      listenHost: "127.0.0.1",
      settings: { get: (k) => settings.get(k), setIfAbsent: (k, v) => (settings.has(k) ? settings.get(k)! : (settings.set(k, v), v)) },
      peers: {
        active: () => rows.filter((r) => r.status === "active"),
        onChange: (l) => (listeners.add(l), () => listeners.delete(l)),
      },
      handler: { handleFlow: (f) => flows.push(f) },
      dns: { udp: (d, peer) => (dnsUdp.push(peer), d.reply(Buffer.from("answer"))), tcp: (c) => c.destroy() },
      agentHttp: (c, peer) => (agent.push(peer.device), c.end("HTTP/1.1 204 No Content\r\n\r\n")),
      agentHttpPort: 8080,
    });
    await t.start();
  });
  after(() => t.close());

  it("keeps one server key in the settings and derives the gateway address from the subnet", () => {
    assert.ok(settings.get(PRIVATE_KEY_SETTING));
    assert.equal(t.publicKey, publicKeyFromPrivate(settings.get(PRIVATE_KEY_SETTING)!));
    assert.equal(t.address, "10.88.0.1");
  });

  it("routes a peer's connections: flows with the peer's device and profile, DNS, agent paths, refusals", async () => {
    const c = await client("10.88.0.2");
    rows.push({ id: "d1", name: "box-1", profile: "alpha", publicKey: c.pub, address: "10.88.0.2", status: "active" });
    changed();
    const conn = c.dial("198.51.100.7", 443);
    await once(conn, "connect");
    const flow = await waitFor(() => flows[0]);
    assert.deepEqual(flow.destination, { host: "198.51.100.7", port: 443 });
    assert.equal(flow.device, "box-1");
    assert.equal(flow.profile, "alpha");
    assert.equal(flow.transport, "wireguard");
    assert.deepEqual(flow.peer, { address: "10.88.0.2", port: 40000 });

    const a = c.dial("10.88.0.1", 8080);
    const got: Buffer[] = [];
    a.on("data", (d: Buffer) => got.push(d));
    a.on("error", () => {}); // the handler ends its side; how the stack closes the rest is not under test here
    await waitFor(() => got.length > 0);
    assert.match(Buffer.concat(got).toString(), /^HTTP\/1\.1 204/);
    assert.deepEqual(agent, ["box-1"]);

    for (const [host, port] of [["10.88.0.1", 22], ["10.88.0.3", 80]] as const) {
      const r = c.dial(host, port);
      r.on("error", () => {});
      await Promise.race([closed(r), sleep(3000)]);
      assert.ok(r.destroyed, `${host}:${port} refused`);
    }
    assert.equal(flows.length, 1, "no flow for the gateway's other ports or another device");

    c.udp("10.88.0.1", 53, "query");
    await waitFor(() => dnsUdp.length === 1);
    assert.equal(dnsUdp[0]!.device, "box-1");
    const dropped = t.stats.udpDropped;
    c.udp("192.0.2.1", 9999, "other udp");
    await waitFor(() => t.stats.udpDropped === dropped + 1);
    c.close();
  });

  it("a pending device is not a peer: nothing gets through; blocking a live peer stops it", async () => {
    const c = await client("10.88.0.5");
    rows.push({ id: "d2", name: "box-2", profile: "beta", publicKey: c.pub, address: "10.88.0.5", status: "pending" });
    changed();
    const before = flows.length;
    const conn = c.dial("198.51.100.8", 443);
    conn.on("error", () => {});
    await sleep(1500);
    assert.equal(flows.length, before);
    assert.ok((t.device.stats.dropped["unknown-peer"] ?? 0) > 0, "its handshakes are dropped at the device");

    rows.find((r) => r.id === "d2")!.status = "active";
    t.sync(); // the poll would do this within seconds
    const ok = c.dial("198.51.100.8", 444);
    await once(ok, "connect");
    await waitFor(() => flows.find((f) => f.device === "box-2"));

    rows.find((r) => r.id === "d2")!.status = "blocked";
    changed();
    assert.ok(!t.peers().some((p) => p.deviceId === "d2"));
    await Promise.race([closed(ok), sleep(3000)]);
    const n = flows.length;
    const again = c.dial("198.51.100.8", 445);
    again.on("error", () => {});
    await sleep(1000);
    assert.equal(flows.length, n, "no new flows once blocked");
    c.close();
  });
});
