import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { policyOf } from "../../config/testing.js";
import { ForwardListener, parseForwardTarget } from "./forward.js";
import { localTransportsOf, startLocalTransports } from "./local.js";
import { closeServer, echoServer, listenLocal, testDispatcher, until } from "./test-support.js";
import { loadText } from "../../config/testing.js";

const POLICY = policyOf(`
gateway {
  state_dir = "/tmp/clawpatrol-test"
  forward "echo" {
    listen  = "127.0.0.1:15432"
    to      = "echo.test:7"
    profile = "default"
  }
}
endpoint "https" "gh" { hosts = ["api.github.com"] }
credential "bearer_token" "gh" { endpoint = https.gh }
profile "default" { credentials = [bearer_token.gh] }
`);

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Connects, sends `payload`, half-closes, and collects everything until the other side ends. */
function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true }, () => s.end(payload));
    s.on("data", (c) => chunks.push(c));
    s.on("end", () => {
      s.destroy();
      resolve(Buffer.concat(chunks));
    });
    s.on("error", reject);
  });
}

describe("forward transport", () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let gw: ReturnType<typeof testDispatcher>;
  let fwd: ForwardListener;
  let port: number;

  before(async () => {
    echo = await echoServer();
    gw = testDispatcher(POLICY, { "echo.test": "127.0.0.1" });
    fwd = new ForwardListener({ listen: "127.0.0.1:0", to: `echo.test:${echo.port}`, profile: "default", device: "forward:echo", handler: gw.handler });
    port = (await fwd.start()).port;
  });
  after(async () => {
    await fwd.close();
    gw.dispatcher.close();
    await closeServer(echo.server);
  });

  it("relays 5 MiB both ways byte-exact, with half-close", async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const back = await roundTrip(port, payload);
    assert.equal(back.length, payload.length);
    assert.equal(sha(back), sha(payload));
    const f = gw.flows[gw.flows.length - 1]!;
    assert.deepEqual([f.destination, f.device, f.profile, f.transport], [{ host: "echo.test", port: echo.port }, "forward:echo", "default", "forward"]);
    await until(() => gw.events.some((e) => e.type === "relay-closed" && e.flow.id === f.id), 3000, "relay-closed");
    const ev = gw.events.find((e) => e.type === "relay-closed" && e.flow.id === f.id)!;
    assert.ok(ev.type === "relay-closed");
    assert.equal(ev.error, undefined);
    assert.equal(ev.bytesUp, payload.length);
    assert.equal(ev.bytesDown, payload.length);
    assert.equal(gw.dispatcher.activeFlows, 0);
  });

  it("several flows at once stay separate", async () => {
    const payloads = Array.from({ length: 8 }, (_, i) => randomBytes(64 * 1024 + i));
    const backs = await Promise.all(payloads.map((p) => roundTrip(port, p)));
    backs.forEach((b, i) => assert.equal(sha(b), sha(payloads[i]!)));
  });
});

describe("relay backpressure", () => {
  it("a stalled upstream reader stalls the agent instead of filling gateway memory", async () => {
    // Upstream: accepts, reads nothing until told to, then hashes everything.
    let upstream: net.Socket | undefined;
    const received = createHash("sha256");
    let receivedBytes = 0;
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      upstream = s;
      s.pause();
      s.on("data", (c) => {
        received.update(c);
        receivedBytes += c.length;
      });
      s.on("end", () => s.end());
    });
    const upPort = await listenLocal(server);
    const gw = testDispatcher(POLICY, { "sink.test": "127.0.0.1" });
    const fwd = new ForwardListener({ listen: "127.0.0.1:0", to: `sink.test:${upPort}`, profile: "default", device: "d", handler: gw.handler });
    const port = (await fwd.start()).port;
    try {
      const client = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
      await new Promise((r) => client.once("connect", r));
      await until(() => upstream !== undefined, 2000, "upstream connection");
      const sent = createHash("sha256");
      let sentBytes = 0;
      const chunk = randomBytes(256 * 1024);
      const cap = 512 * 1024 * 1024;
      // Write until the whole chain pushes back: no 'drain' for 500 ms.
      let stalled = false;
      while (sentBytes < cap) {
        sent.update(chunk);
        sentBytes += chunk.length;
        if (!client.write(chunk)) {
          const drained = await Promise.race([
            new Promise<boolean>((r) => client.once("drain", () => r(true))),
            new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
          ]);
          if (!drained) {
            stalled = true;
            break;
          }
        }
      }
      assert.ok(stalled, `the agent side never stalled (${sentBytes} bytes accepted)`);
      // Kernel socket buffers on loopback hold a few MiB per hop; the
      // gateway itself must hold no more than a stream high-water mark or two.
      assert.ok(sentBytes < 96 * 1024 * 1024, `accepted ${sentBytes} bytes before stalling`);
      const agentSide = gw.flows[0]!.stream as net.Socket;
      assert.ok(agentSide.readableLength <= 1024 * 1024, `gateway buffered ${agentSide.readableLength} bytes from the agent`);
      const before = receivedBytes;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(receivedBytes, before, "nothing flows while upstream is paused");
      // Resume the reader: everything arrives, intact.
      client.end();
      upstream!.resume();
      await until(() => receivedBytes === sentBytes, 20_000, "all bytes upstream");
      assert.equal(received.digest("hex"), sent.digest("hex"));
      client.destroy();
    } finally {
      await fwd.close();
      gw.dispatcher.close();
      await closeServer(server);
    }
  });
});

describe("local transport config", () => {
  it("reads proxy / forward / resolve from the gateway block, with device defaults", async () => {
    const r = loadText(`
gateway {
  state_dir = "/tmp/x"
  resolve   = { "db.example.test" = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:1080"
    profile = "default"
  }
  proxy {
    listen  = "127.0.0.1:1081"
    profile = "default"
    device  = "laptop"
  }
  forward "pg" {
    listen  = "127.0.0.1:15432"
    to      = "db.example.test:5432"
    profile = "default"
  }
}
endpoint "https" "gh" { hosts = ["api.github.com"] }
credential "bearer_token" "gh" { endpoint = https.gh }
profile "default" { credentials = [bearer_token.gh] }
`);
    assert.deepEqual(r.diagnostics.filter((d) => d.severity === "error"), []);
    const cfg = localTransportsOf(r.policy!.config.gateway);
    assert.deepEqual(cfg, {
      proxies: [
        { listen: "127.0.0.1:1080", profile: "default", device: "proxy:127.0.0.1:1080" },
        { listen: "127.0.0.1:1081", profile: "default", device: "laptop" },
      ],
      forwards: [{ name: "pg", listen: "127.0.0.1:15432", to: "db.example.test:5432", profile: "default", device: "forward:pg" }],
      resolve: { "db.example.test": "127.0.0.1" },
    });
    assert.deepEqual(parseForwardTarget("[2001:db8::1]:22"), { host: "2001:db8::1", port: 22 });
    assert.throws(() => parseForwardTarget("nohost"), /invalid forward target/);
  });

  it("starts all listeners or none", async () => {
    const gw = testDispatcher(POLICY, {});
    const ok = await startLocalTransports(
      { proxies: [{ listen: "127.0.0.1:0", profile: "default", device: "p" }], forwards: [{ name: "f", listen: "127.0.0.1:0", to: "x.test:1", profile: "default", device: "f" }], resolve: {} },
      gw.handler,
    );
    assert.equal(ok.length, 2);
    const taken = `127.0.0.1:${ok[0]!.address().port}`;
    await assert.rejects(
      startLocalTransports({ proxies: [{ listen: "127.0.0.1:0", profile: "default", device: "p" }, { listen: taken, profile: "default", device: "q" }], forwards: [], resolve: {} }, gw.handler),
      /EADDRINUSE/,
    );
    await Promise.all(ok.map((l) => l.close()));
  });
});
