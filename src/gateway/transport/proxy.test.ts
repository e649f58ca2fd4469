import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { policyOf } from "../../config/testing.js";
import { prng } from "../../testing/prng.js";
import type { Flow, FlowHandler } from "../flow.js";
import { ProxyListener } from "./proxy.js";
import { closeServer, curl, exchange, httpServer, requireCurl, testDispatcher, until } from "./test-support.js";

const POLICY = policyOf(`
gateway {
  state_dir = "/tmp/clawpatrol-test"
  proxy {
    listen  = "127.0.0.1:1080"
    profile = "default"
    device  = "local-proxy"
  }
}
endpoint "https" "gh" { hosts = ["api.github.com"] }
credential "bearer_token" "gh" { endpoint = https.gh }
profile "default" { credentials = [bearer_token.gh] }
`);

describe("proxy transport with real curl", () => {
  let web: Awaited<ReturnType<typeof httpServer>>;
  let gw: ReturnType<typeof testDispatcher>;
  let proxy: ProxyListener;
  let proxyPort: number;

  before(async () => {
    web = await httpServer("hello from svc\n");
    gw = testDispatcher(POLICY, { "svc.test": "127.0.0.1" });
    proxy = new ProxyListener({ listen: "127.0.0.1:0", profile: "default", device: "local-proxy", handler: gw.handler });
    proxyPort = (await proxy.start()).port;
  });
  after(async () => {
    await proxy.close();
    gw.dispatcher.close();
    await closeServer(web.server);
  });

  const lastFlow = () => gw.flows[gw.flows.length - 1]!;

  it("SOCKS5 with remote DNS: the name reaches the flow unresolved; the resolve map dials it", async (t) => {
    if (!requireCurl(t)) return;
    const r = await curl(["--socks5-hostname", `127.0.0.1:${proxyPort}`, `http://svc.test:${web.port}/`]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "hello from svc\n");
    const f = lastFlow();
    assert.deepEqual(
      { destination: f.destination, device: f.device, profile: f.profile, transport: f.transport },
      { destination: { host: "svc.test", port: web.port }, device: "local-proxy", profile: "default", transport: "proxy" },
    );
    assert.equal(f.peer?.address, "127.0.0.1");
    await until(() => gw.events.some((e) => e.type === "relay-closed" && e.flow.id === f.id), 3000, "relay-closed");
    const closed = gw.events.find((e) => e.type === "relay-closed" && e.flow.id === f.id);
    assert.ok(closed && closed.type === "relay-closed");
    assert.equal(closed.upstream, `127.0.0.1:${web.port}`);
    assert.equal(closed.error, undefined);
    assert.ok(closed.bytesUp > 0 && closed.bytesDown > 0);
    const routed = gw.events.find((e) => e.type === "route" && e.flow.id === f.id);
    assert.equal(routed?.type === "route" && routed.route.kind, "relay");
  });

  it("HTTP CONNECT (curl --proxytunnel) reaches the same relay", async (t) => {
    if (!requireCurl(t)) return;
    const r = await curl(["--proxytunnel", "-x", `http://127.0.0.1:${proxyPort}`, `http://svc.test:${web.port}/`]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "hello from svc\n");
    const f = lastFlow();
    assert.deepEqual([f.destination, f.device, f.profile, f.transport], [{ host: "svc.test", port: web.port }, "local-proxy", "default", "proxy"]);
    assert.equal(web.hosts[web.hosts.length - 1], `svc.test:${web.port}`);
  });

  it("SOCKS5 with local DNS (IPv4 address type)", async (t) => {
    if (!requireCurl(t)) return;
    // curl resolves svc.test itself (--resolve) and sends the address.
    const r = await curl(["--socks5", `127.0.0.1:${proxyPort}`, "--resolve", `svc.test:${web.port}:127.0.0.1`, `http://svc.test:${web.port}/`]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "hello from svc\n");
    assert.deepEqual(lastFlow().destination, { host: "127.0.0.1", port: web.port });
  });

  it("SOCKS5 IPv6 address type", async (t) => {
    if (!requireCurl(t)) return;
    const v6 = await httpServer("hello over v6\n", "::1").catch(() => undefined);
    if (!v6) return t.skip("no IPv6 loopback");
    try {
      const r = await curl(["--socks5", `127.0.0.1:${proxyPort}`, `http://[::1]:${v6.port}/`]);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "hello over v6\n");
      assert.deepEqual(lastFlow().destination, { host: "::1", port: v6.port });
    } finally {
      await closeServer(v6.server);
    }
  });

  it("a plain proxy GET gets 405 with a clear body", async (t) => {
    if (!requireCurl(t)) return;
    const r = await curl(["-x", `http://127.0.0.1:${proxyPort}`, "-w", "%{http_code}", `http://svc.test:${web.port}/`]);
    assert.match(r.stdout, /only CONNECT is supported/);
    assert.match(r.stdout, /405$/);
  });
});

/** A flow handler that keeps flows (streams untouched) for inspection. */
function keeper(): { handler: FlowHandler; flows: Flow[] } {
  const flows: Flow[] = [];
  return { flows, handler: { handleFlow: (f) => void flows.push(f) } };
}

/** Reads exactly n bytes from a paused stream. */
function readN(stream: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        stream.off("data", onData);
        stream.pause();
        resolve(Buffer.concat(chunks).subarray(0, n));
      }
    };
    stream.on("data", onData);
    stream.once("error", reject);
    stream.resume(); // flows arrive paused
  });
}

describe("proxy handshakes: pushback and hostile input", () => {
  let proxy: ProxyListener;
  let port: number;
  const k = keeper();
  const logs: string[] = [];

  before(async () => {
    proxy = new ProxyListener({
      listen: "127.0.0.1:0",
      profile: "default",
      device: "d",
      handler: k.handler,
      handshakeTimeoutMs: 300,
      onLog: (e) => logs.push(e.reason),
    });
    port = (await proxy.start()).port;
  });
  after(async () => {
    await proxy.close();
    for (const f of k.flows) f.stream.destroy();
  });

  const socksConnect = (host: string, p: number) => Buffer.from([5, 1, 0, 3, host.length, ...Buffer.from(host), p >> 8, p & 0xff]);

  it("bytes sent with the SOCKS5 request are pushed back into the flow", async () => {
    const n0 = k.flows.length;
    const pending = exchange(port, [Buffer.concat([Buffer.from([5, 1, 0]), socksConnect("svc.test", 80), Buffer.from("GET / HTTP/1.1\r\n")])], { waitMs: 400 });
    await until(() => k.flows.length > n0, 2000, "flow");
    const f = k.flows[k.flows.length - 1]!;
    assert.deepEqual(f.destination, { host: "svc.test", port: 80 });
    assert.equal((await readN(f.stream, 16)).toString(), "GET / HTTP/1.1\r\n");
    const got = await pending;
    assert.deepEqual([...got.data], [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("bytes sent with the CONNECT head are pushed back into the flow", async () => {
    const n0 = k.flows.length;
    const pending = exchange(port, ["CONNECT svc.test:443 HTTP/1.1\r\nHost: svc.test:443\r\n\r\n\x16\x03\x01hello"], { waitMs: 400 });
    await until(() => k.flows.length > n0, 2000, "flow");
    const f = k.flows[k.flows.length - 1]!;
    assert.deepEqual(f.destination, { host: "svc.test", port: 443 });
    assert.equal((await readN(f.stream, 8)).toString("latin1"), "\x16\x03\x01hello");
    assert.equal((await pending).data.toString(), "HTTP/1.1 200 Connection Established\r\n\r\n");
  });

  it("SOCKS5 split into single bytes still works", async () => {
    const n0 = k.flows.length;
    const bytes = [...Buffer.concat([Buffer.from([5, 1, 0]), socksConnect("a.test", 5432)])].map((b) => Buffer.from([b]));
    void exchange(port, bytes, { gapMs: 2, waitMs: 400 });
    await until(() => k.flows.length > n0, 2000, "flow");
    assert.deepEqual(k.flows[k.flows.length - 1]!.destination, { host: "a.test", port: 5432 });
  });

  const refusals: [string, (Buffer | string)[], (r: Buffer) => void][] = [
    ["unknown first byte: closed, no reply", [Buffer.from([0x16, 3, 1, 0, 5])], (r) => assert.equal(r.length, 0)],
    ["SOCKS version byte then junk greeting", [Buffer.from([5, 1, 0]), Buffer.from([4, 1, 0, 1, 1, 2, 3, 4, 0, 80])], (r) => assert.deepEqual([...r.subarray(2, 4)], [5, 1])],
    ["no acceptable method", [Buffer.from([5, 1, 2])], (r) => assert.deepEqual([...r], [5, 0xff])],
    ["zero methods", [Buffer.from([5, 0])], (r) => assert.deepEqual([...r], [5, 0xff])],
    ["BIND ⇒ command not supported", [Buffer.from([5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80])], (r) => assert.deepEqual([...r.subarray(0, 4)], [5, 0, 5, 7])],
    ["UDP ASSOCIATE ⇒ command not supported", [Buffer.from([5, 1, 0, 5, 3, 0, 1, 127, 0, 0, 1, 0, 80])], (r) => assert.deepEqual([...r.subarray(2, 4)], [5, 7])],
    ["address type 9 ⇒ not supported", [Buffer.from([5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80])], (r) => assert.deepEqual([...r.subarray(2, 4)], [5, 8])],
    ["hostile domain name ⇒ host unreachable", [Buffer.from([5, 1, 0, 5, 1, 0, 3, 3, 0x61, 0x0a, 0x62, 0, 80])], (r) => assert.deepEqual([...r.subarray(2, 4)], [5, 4])],
    ["SOCKS4 ⇒ rejected", [Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0])], (r) => assert.deepEqual([...r.subarray(0, 2)], [0, 0x5b])],
    ["plain GET ⇒ 405", ["GET http://svc.test/ HTTP/1.1\r\nHost: svc.test\r\n\r\n"], (r) => assert.match(r.toString(), /^HTTP\/1\.1 405 [^]*Allow: CONNECT[^]*only CONNECT is supported/)],
    ["malformed CONNECT ⇒ 400", ["CONNECT nowhere HTTP/1.1\r\n\r\n"], (r) => assert.match(r.toString(), /^HTTP\/1\.1 400 /)],
    ["oversized head ⇒ 431", [`CONNECT a.test:1 HTTP/1.1\r\nX-Pad: ${"a".repeat(10_000)}`], (r) => assert.match(r.toString(), /^HTTP\/1\.1 431 /)],
    ["truncated SOCKS request then EOF ⇒ closed", [Buffer.from([5, 1, 0, 5, 1, 0, 3, 20, 0x61])], (r) => assert.deepEqual([...r], [5, 0])],
  ];
  for (const [name, parts, check] of refusals) {
    it(name, async () => {
      const n0 = k.flows.length;
      const r = await exchange(port, parts, { end: name.includes("EOF"), waitMs: 2500 });
      assert.equal(r.closed, true, "server closed the connection");
      check(r.data);
      assert.equal(k.flows.length, n0, "no flow was created");
    });
  }

  it("slowloris: a trickled handshake is cut off at the deadline", async () => {
    const trickle = "CONNECT svc.test:443 HTTP/1.1\r\nHost: svc.test\r\n".split("").map((c) => c);
    const r = await exchange(port, trickle, { gapMs: 50, waitMs: 3000 });
    assert.equal(r.closed, true);
    assert.ok(r.ms < 1500, `closed after ${r.ms} ms`);
    assert.match(r.data.toString(), /^HTTP\/1\.1 408 /);
    const s = await exchange(port, [Buffer.from([5]), Buffer.from([1]), Buffer.from([0])], { gapMs: 250, waitMs: 3000 });
    assert.equal(s.closed, true);
    assert.ok(s.ms < 1500);
    assert.ok(logs.includes("handshake timeout"));
  });

  it("fuzz: random first bytes never crash the listener (seeded, ≤ 2 s)", async () => {
    const rand = prng(0x50c5);
    const deadline = Date.now() + 1500;
    const prefixes = [[5], [5, 1, 0], [5, 1, 0, 5, 1, 0], [0x43], [4], []];
    let n = 0;
    while (Date.now() < deadline) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 16; i++) {
        const prefix = prefixes[Math.floor(rand() * prefixes.length)]!;
        const body = Buffer.alloc(Math.floor(rand() * 80));
        for (let j = 0; j < body.length; j++) body[j] = Math.floor(rand() * 256);
        batch.push(exchange(port, [Buffer.concat([Buffer.from(prefix), body])], { end: rand() < 0.7, waitMs: 800 }));
        n++;
      }
      await Promise.all(batch);
    }
    assert.ok(n >= 32, `${n} connections`);
    for (const f of k.flows) f.stream.destroy();
    // Still serving.
    const n0 = k.flows.length;
    void exchange(port, [Buffer.concat([Buffer.from([5, 1, 0]), socksConnect("ok.test", 1)])], { waitMs: 300 });
    await until(() => k.flows.length > n0, 2000, "flow after fuzz");
    await until(() => proxy.pendingCount === 0, 2000, "handshakes drained");
  });
});
