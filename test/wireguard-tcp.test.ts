/**
 * TCP correctness through the real tunnel under loss and reordering: a
 * gateway in this process with `gateway { wireguard {} }`, a device enrolled
 * with `clawpatrol join` + approval through the API, and the namespace
 * `clawpatrol run` builds for it (wireguard-go, its TUN moved into a fresh
 * namespace; test/wireguard-kit.ts) kept open for several commands. The
 * peers are python3 scripts inside the namespace and TCP servers in this
 * process on the host's non-loopback address — an unlisted host, so every
 * connection is a relayed flow through the gateway's netstack.
 *
 * Impairment: `tc qdisc add dev <tunnel if> root netem loss 1% reorder 5%
 * 25% delay 2ms` inside the namespace when the kernel has sch_netem. netem
 * on the namespace's egress only hits what the namespace sends: the data in
 * the upload, but only the ACKs in the download. Where sch_netem is missing
 * (some CI kernels, this one included at the time of writing) the same
 * loss/reordering is applied instead by an in-process UDP relay between
 * wireguard-go and the gateway ({@link impairedUdpRelay}), which hits *both*
 * directions: the gateway's own sender (retransmission, NewReno recovery) is
 * exercised in the download then too.
 *
 * The netstack implements neither SACK nor timestamps, so a Linux sender
 * facing loss *and* reordering raises its dupthresh (tp->reordering) and
 * recovers mostly by RTO (≥ 200 ms, backing off) followed by go-back-N
 * retransmission of data the receiver already holds: the transfers below
 * are slow but must complete, byte-exact.
 *
 * (a) 100 MB upload, sha-256 equal on both sides, bounded time;
 * (b) 100 MB download, same;
 * (c) 2,000 short connections (16 in parallel): afterwards the peer's
 *     netstack holds 0 connections and the heap returns near its baseline.
 *
 * Needs root, ip, wg, wireguard-go, /dev/net/tun, python3 (and tc for
 * netem); skipped without them unless CI is set, where their absence fails.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserspaceNetStack } from "../src/gateway/transport/netstack/stack.js";
import { enrollDevice, gcNow, hostAddress, impairedUdpRelay, netemUnavailable, openTunnel, startWgGateway, wgE2eUnavailable, type Tunnel, type UdpRelay, type WgGateway } from "./wireguard-kit.js";

const MB = 1_000_000;
const SIZE = 100 * MB;
// 2% loss / 10% reordering (the example) takes this stack 60-110 s
// per 100 MB in one direction (no SACK: see the note above), so the suite
// uses 1% / 5%.
const LOSS = 0.01;
const REORDER = 0.05;
const DELAY_MS = 2;
/** Per transfer; a stall (an RTO backoff spiral, a lost FIN) runs into it. */
const TRANSFER_TIMEOUT_MS = 40_000;

const unavailable = wgE2eUnavailable(["python3"]) ?? (hostAddress() === undefined ? "no non-loopback IPv4 address" : null);
if (unavailable && process.env.CI) {
  it("WireGuard TCP prerequisites are present (CI)", () => assert.fail(`cannot run the WireGuard TCP suite under CI: ${unavailable}`));
}

// The transport keeps its per-peer stacks private: note every stack that
// completes a handshake (one enrolled peer here ⇒ one stack).
const stacks = new Set<UserspaceNetStack>();
const origEstablished = UserspaceNetStack.prototype.established;
UserspaceNetStack.prototype.established = function (this: UserspaceNetStack, conn) {
  stacks.add(this);
  return origEstablished.call(this, conn);
};
const tunnelConnections = () => [...stacks].reduce((n, s) => n + s.connections, 0);

const PY_UPLOAD = `
import hashlib, os, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h = hashlib.sha256()
s = socket.create_connection((host, port), timeout=30)
sent = 0
while sent < n:
    b = os.urandom(min(1 << 20, n - sent))
    h.update(b)
    s.sendall(b)
    sent += len(b)
s.shutdown(socket.SHUT_WR)
reply = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    reply += d
print(h.hexdigest(), sent, reply.decode())
`;

const PY_DOWNLOAD = `
import hashlib, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
h = hashlib.sha256()
n = 0
while True:
    d = s.recv(1 << 18)
    if not d:
        break
    h.update(d)
    n += len(d)
print(h.hexdigest(), n)
`;

const PY_SHORT = `
import socket, sys, threading
host, port, total, par = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = [0] * par
errs = []
msg = b"x" * 100
def worker(i):
    for _ in range(total // par + (1 if i < total % par else 0)):
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(4096)
                if not d:
                    break
                got += d
            s.close()
            if got == msg:
                ok[i] += 1
        except Exception as e:
            errs.append(repr(e))
ts = [threading.Thread(target=worker, args=(i,)) for i in range(par)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(ok), len(errs), errs[:3])
`;

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

function listen(handler: (s: Socket) => void): Promise<Server> {
  const srv = createServer(handler);
  return new Promise((r) => srv.listen(0, "0.0.0.0", () => r(srv)));
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

describe("WireGuard TCP through the tunnel with loss and reordering", { skip: unavailable ?? false }, () => {
  let dir: string;
  let g: WgGateway;
  let relay: UdpRelay;
  let tunnel: Tunnel;
  let impairment = "";
  const ip = hostAddress()!;
  const servers: Server[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-wg-tcp-"));
    g = await startWgGateway({ dir, body: `profile "agents" { credentials = [] }\n`, logLevel: "warn" });
    const dev = await enrollDevice({ base: g.base, token: g.token, configDir: join(dir, "device"), name: "tcp-box", profile: "agents" });
    const netemWhy = netemUnavailable();
    relay = await impairedUdpRelay(g.wgPort, { loss: 0, reorder: 0, delayMs: 0 });
    tunnel = await openTunnel(dev.dir, { endpoint: relay.endpoint }); // handshake unimpaired (a lost initiation costs 5 s)
    if (!netemWhy) {
      const r = await tunnel.exec("tc", ["qdisc", "add", "dev", tunnel.ns.ifname, "root", "netem", "loss", `${LOSS * 100}%`, "reorder", `${REORDER * 100}%`, "25%", "delay", `${DELAY_MS}ms`]);
      assert.equal(r.code, 0, r.stderr);
      impairment = `tc netem on ${tunnel.ns.ifname} (namespace egress)`;
    } else {
      Object.assign(relay.impair, { loss: LOSS, reorder: REORDER, delayMs: DELAY_MS, direction: "both" });
      impairment = `UDP relay, both directions (${netemWhy})`;
    }
  });

  after(async () => {
    await tunnel?.close();
    relay?.close();
    for (const s of servers) s.close();
    await g?.close();
    UserspaceNetStack.prototype.established = origEstablished;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("(a) 100 MB upload from the namespace arrives intact, without stalls", async (t) => {
    let digest = "";
    let received = 0;
    const sink = await listen((s) => {
      const h = createHash("sha256");
      s.on("data", (d: Buffer) => {
        h.update(d);
        received += d.length;
      });
      s.on("end", () => {
        digest = h.digest("hex");
        s.end(digest);
      });
      s.on("error", () => {});
    });
    servers.push(sink);
    const before = { ...relay.stats };
    const r = await tunnel.exec("python3", ["-c", PY_UPLOAD, ip, String(portOf(sink)), String(SIZE)], { timeoutMs: TRANSFER_TIMEOUT_MS });
    const mbps = (SIZE * 8) / (r.ms / 1000) / 1e6;
    t.diagnostic(`upload ${SIZE / MB} MB in ${(r.ms / 1000).toFixed(1)} s (${mbps.toFixed(0)} Mbit/s); impairment: ${impairment}; relay dropped ${relay.stats.dropped - before.dropped}, delayed ${relay.stats.delayed - before.delayed}`);
    assert.equal(r.code, 0, `sender failed or stalled (${r.ms.toFixed(0)} ms): ${r.stderr}`);
    const [sent, n, echoed] = r.stdout.trim().split(/\s+/);
    assert.equal(Number(n), SIZE);
    assert.equal(received, SIZE);
    assert.equal(digest, sent, "the sink's sha-256 equals the sender's");
    assert.equal(echoed, sent, "the sink's reply came back through the tunnel");
  });

  it("(b) 100 MB download into the namespace arrives intact, without stalls", async (t) => {
    let digest = "";
    const source = await listen((s) => {
      const h = createHash("sha256");
      let left = SIZE;
      s.on("error", () => {});
      const pump = () => {
        while (left > 0) {
          const b = randomBytes(Math.min(1 << 20, left));
          h.update(b);
          left -= b.length;
          if (!s.write(b)) return void s.once("drain", pump);
        }
        digest = h.digest("hex");
        s.end();
      };
      pump();
    });
    servers.push(source);
    const before = { ...relay.stats };
    const r = await tunnel.exec("python3", ["-c", PY_DOWNLOAD, ip, String(portOf(source))], { timeoutMs: TRANSFER_TIMEOUT_MS });
    const mbps = (SIZE * 8) / (r.ms / 1000) / 1e6;
    t.diagnostic(`download ${SIZE / MB} MB in ${(r.ms / 1000).toFixed(1)} s (${mbps.toFixed(0)} Mbit/s); impairment: ${impairment}; relay dropped ${relay.stats.dropped - before.dropped}, delayed ${relay.stats.delayed - before.delayed}`);
    assert.equal(r.code, 0, `receiver failed or stalled (${r.ms.toFixed(0)} ms): ${r.stderr}`);
    const [got, n] = r.stdout.trim().split(/\s+/);
    assert.equal(Number(n), SIZE);
    assert.equal(got, digest, "the receiver's sha-256 equals the source's");
  });

  it("(c) 2,000 short connections: the peer's netstack returns to 0 connections, the heap to its baseline", async (t) => {
    let accepted = 0;
    const echo = await listen((s) => {
      accepted++;
      s.on("error", () => {});
      s.pipe(s);
    });
    servers.push(echo);
    const short = (total: number) => tunnel.exec("python3", ["-c", PY_SHORT, ip, String(portOf(echo)), String(total), "16"], { timeoutMs: 40_000 });
    const settle = async () => {
      assert.ok(await waitFor(() => tunnelConnections() === 0, 10_000), `netstack connections: ${tunnelConnections()}`);
      await new Promise((r) => setTimeout(r, 200));
      gcNow();
      return process.memoryUsage().heapUsed;
    };
    // Warm-up: JIT, lazily built structures, the first flows' one-off costs.
    const warm = await short(200);
    assert.match(warm.stdout, /^200 0 /, warm.stderr);
    const baseline = await settle();
    const r = await short(2000);
    t.diagnostic(`2,000 connections (16 parallel) in ${(r.ms / 1000).toFixed(1)} s: ${r.stdout.trim()}`);
    assert.equal(r.code, 0, r.stderr);
    // Under loss a connect may time out and be retried by nobody: all must succeed anyway (TCP retransmits).
    assert.match(r.stdout, /^2000 0 /, r.stderr);
    assert.equal(accepted, 2200);
    assert.ok(stacks.size >= 1, "the peer's netstack was seen");
    const t0 = Date.now();
    const afterHeap = await settle();
    assert.equal(tunnelConnections(), 0);
    const delta = afterHeap - baseline;
    t.diagnostic(`netstack connections back to 0 in ${Date.now() - t0} ms; heap ${(baseline / MB).toFixed(1)} MB → ${(afterHeap / MB).toFixed(1)} MB (Δ ${(delta / MB).toFixed(2)} MB)`);
    assert.ok(delta < 10 * MB, `heap grew by ${(delta / MB).toFixed(1)} MB over 2,000 closed connections`);
  });
});
