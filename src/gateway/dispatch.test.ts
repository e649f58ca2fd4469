import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { policyOf } from "../config/testing.js";
import type { CompiledEndpoint } from "../policy/compiled.js";
import type { Flow } from "./flow.js";
import type { DispatchEvent, InterceptHandler, InterceptRoute, TlsHello } from "./dispatch.js";
import { peekClientHello } from "./tls/sni.js";
import { ForwardListener } from "./transport/forward.js";
import { closeServer, echoServer, exchange, listenLocal, testDispatcher, until } from "./transport/test-support.js";

const GW = `
gateway {
  state_dir = "/tmp/clawpatrol-test"
  forward "x" {
    listen  = "127.0.0.1:15432"
    to      = "x.test:1"
    profile = "default"
  }
}
`;
function policy(extra = "", defaults = "", creds: string[] = []) {
  return policyOf(`${GW}${defaults}
endpoint "https" "api" { hosts = ["api.example.test"] }
endpoint "postgres" "db" { host = "db.example.test:5432" }
${extra}
credential "bearer_token" "api" { endpoint = https.api }
credential "postgres_credential" "db" {
  endpoint = postgres.db
  user     = "app"
}
profile "default" { credentials = [${["bearer_token.api", "postgres_credential.db", ...creds].join(", ")}] }
`);
}

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** A forward listener to `to` feeding `gw`; returns its port. */
async function forwardTo(gw: ReturnType<typeof testDispatcher>, to: string, profile = "default"): Promise<number> {
  const l = new ForwardListener({ listen: "127.0.0.1:0", to, profile, device: "test", handler: gw.handler });
  const port = (await l.start()).port;
  closers.push(() => l.close(), () => gw.dispatcher.close());
  return port;
}

/** Starts a TLS handshake towards `port` with this SNI / ALPN; the handshake itself is never answered. */
function helloTo(port: number, servername: string, alpn = ["h2", "http/1.1"]): tls.TLSSocket {
  const s = tls.connect({ host: "127.0.0.1", port, servername, ALPNProtocols: alpn, rejectUnauthorized: false });
  s.on("error", () => s.destroy());
  return s;
}

const eventsOf = (events: DispatchEvent[], type: DispatchEvent["type"]) => events.filter((e) => e.type === type);

/** An intercept handler recording its calls and the first bytes of each stream. */
function recorder(read = 0) {
  const calls: { flow: Flow; endpoint: CompiledEndpoint; tls: TlsHello | undefined; route: InterceptRoute; bytes?: Buffer }[] = [];
  const handler: InterceptHandler = {
    intercept(flow, endpoint, hello, route) {
      const call: (typeof calls)[number] = { flow, endpoint, tls: hello, route };
      calls.push(call);
      if (read > 0) {
        const chunks: Buffer[] = [];
        flow.stream.on("data", (c: Buffer) => {
          chunks.push(c);
          if (Buffer.concat(chunks).length >= read) {
            call.bytes = Buffer.concat(chunks);
            flow.stream.destroy();
          }
        });
        flow.stream.resume();
      }
    },
  };
  return { calls, handler };
}

describe("dispatcher", () => {
  it("a ClientHello whose SNI an endpoint claims goes to the family's runtime, bytes intact", async () => {
    const seen: Buffer[] = [];
    const rec = recorder(64);
    const gw = testDispatcher(policy(), {}, {
      handlers: { byFamily: { http: rec.handler } },
      // The real sniffer, spied on to learn exactly which bytes it was shown.
      sniff: (b) => {
        seen.push(Buffer.from(b));
        return peekClientHello(b);
      },
    });
    const port = await forwardTo(gw, "api.example.test:443");
    const client = helloTo(port, "api.example.test");
    await until(() => rec.calls[0]?.bytes !== undefined, 3000, "intercept");
    client.destroy();
    const call = rec.calls[0]!;
    assert.equal(call.endpoint.key, "https.api");
    assert.deepEqual(call.tls, { sni: "api.example.test", alpn: ["h2", "http/1.1"] });
    assert.deepEqual(call.route.upstream, { host: "api.example.test", port: 443 });
    assert.equal(call.flow.profile, "default");
    // The runtime reads the very bytes the sniffer saw, from byte 0.
    const sniffed = seen[seen.length - 1]!;
    assert.equal(call.bytes![0], 0x16);
    assert.deepEqual(call.bytes!.subarray(0, 64), sniffed.subarray(0, 64));
    const route = eventsOf(gw.events, "route")[0];
    assert.ok(route?.type === "route" && route.first.kind === "tls" && route.first.sni === "api.example.test");
  });

  it("runtimes by endpoint type win over runtimes by family; a claimed endpoint without one is closed", async () => {
    const byType = recorder();
    const byFamily = recorder();
    const gw = testDispatcher(policy(), {}, { handlers: { byType: { postgres: byType.handler }, byFamily: { sql: byFamily.handler } } });
    const port = await forwardTo(gw, "db.example.test:5432");
    const r = await exchange(port, ["\x00\x00\x00\x08\x04\xd2\x16\x2f"], { waitMs: 300 });
    assert.equal(byType.calls.length, 1);
    assert.equal(byFamily.calls.length, 0);
    assert.equal(byType.calls[0]!.tls, undefined); // postgres is not sniffed
    byType.calls[0]!.flow.stream.destroy();
    assert.equal(r.data.length, 0);

    const none = testDispatcher(policy(), {}, { handlers: { byFamily: { http: recorder().handler } } });
    const p2 = await forwardTo(none, "db.example.test:5432");
    const r2 = await exchange(p2, ["hello"], { waitMs: 2000 });
    assert.equal(r2.closed, true);
    const closed = eventsOf(none.events, "flow-closed")[0];
    assert.ok(closed?.type === "flow-closed");
    assert.match(closed.reason, /no runtime for postgres endpoints/);
    assert.equal(eventsOf(none.events, "relay-closed").length, 0, "never relayed");
  });

  it("a runtime that fails closes the flow", async () => {
    const gw = testDispatcher(policy(), {}, {
      handlers: {
        byFamily: {
          sql: {
            intercept: async () => {
              throw new Error("boom");
            },
          },
        },
      },
    });
    const port = await forwardTo(gw, "db.example.test:5432");
    const r = await exchange(port, ["x"], { waitMs: 2000 });
    assert.equal(r.closed, true);
    const e = eventsOf(gw.events, "flow-closed")[0];
    assert.ok(e?.type === "flow-closed" && /postgres runtime failed: boom/.test(e.reason));
  });

  it("unknown_host = deny closes unclaimed TLS on :443; passthrough relays it", async () => {
    const deny = testDispatcher(policy("", 'defaults { unknown_host = "deny" }'), { "nobody.test": "127.0.0.1" });
    const port = await forwardTo(deny, "nobody.test:443");
    const s = helloTo(port, "nobody.test");
    await until(() => s.destroyed, 3000, "client closed");
    const e = eventsOf(deny.events, "flow-closed")[0];
    assert.ok(e?.type === "flow-closed");
    assert.match(e.reason, /unknown host nobody\.test denied/);
    const routed = eventsOf(deny.events, "route")[0];
    assert.ok(routed?.type === "route");
    assert.deepEqual(routed.route, { kind: "unknown-host", action: "deny", sni: "nobody.test" });

    const pass = testDispatcher(policy(), { "nobody.test": "127.0.0.1" });
    const p2 = await forwardTo(pass, "nobody.test:443");
    const s2 = helloTo(p2, "nobody.test");
    await until(() => eventsOf(pass.events, "route").length > 0, 3000, "route");
    await new Promise((r) => setTimeout(r, 100));
    s2.destroy(); // whether or not something listens on :443 here
    await until(() => eventsOf(pass.events, "relay-closed").length > 0, 12_000, "relay-closed");
    const rc = eventsOf(pass.events, "relay-closed")[0];
    assert.ok(rc?.type === "relay-closed");
    assert.equal(rc.route, "unknown-host");
    assert.equal(rc.upstream, "127.0.0.1:443");
  });

  it("a partial ClientHello that stalls routes as TLS without a name (fail closed)", async () => {
    const gw = testDispatcher(policy("", 'defaults { unknown_host = "deny" }'), {}, { sniffTimeoutMs: 150 });
    const port = await forwardTo(gw, "203.0.113.9:443");
    const r = await exchange(port, [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])], { waitMs: 2000 });
    assert.equal(r.closed, true);
    const routed = eventsOf(gw.events, "route")[0];
    assert.ok(routed?.type === "route");
    assert.deepEqual(routed.first, { kind: "tls", alpn: [] });
    assert.deepEqual(routed.route, { kind: "unknown-host", action: "deny" });
  });

  it("a partial ClientHello followed by EOF is closed", async () => {
    const gw = testDispatcher(policy(), {});
    const port = await forwardTo(gw, "203.0.113.9:443");
    const r = await exchange(port, [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])], { end: true, waitMs: 2000 });
    assert.equal(r.closed, true);
    const e = eventsOf(gw.events, "flow-closed")[0];
    assert.ok(e?.type === "flow-closed" && /closed before/.test(e.reason));
  });

  it("on a sniffed port, non-TLS bytes are pushed back and relayed; a server-first protocol waits out the sniff", async () => {
    const echo = await echoServer();
    closers.push(() => closeServer(echo.server));
    // other.test claims the echo port for https, so flows to that port are sniffed.
    const p = policy(`endpoint "https" "other" { hosts = ["other.test:${echo.port}"] }\ncredential "bearer_token" "other" { endpoint = https.other }`, "", ["bearer_token.other"]);
    const gw = testDispatcher(p, { "echo.test": "127.0.0.1" }, { sniffTimeoutMs: 150 });
    const port = await forwardTo(gw, `echo.test:${echo.port}`);
    const r = await exchange(port, ["PING\n"], { end: true, waitMs: 3000 });
    assert.equal(r.data.toString(), "PING\n");
    const routed = eventsOf(gw.events, "route")[0];
    assert.ok(routed?.type === "route");
    assert.deepEqual([routed.first, routed.route], [{ kind: "not-tls" }, { kind: "relay" }]);

    const banner = net.createServer((s) => s.end("220 ready\r\n"));
    const bannerPort = await listenLocal(banner);
    closers.push(() => closeServer(banner));
    const p2 = policy(`endpoint "https" "other" { hosts = ["other.test:${bannerPort}"] }\ncredential "bearer_token" "other" { endpoint = https.other }`, "", ["bearer_token.other"]);
    const gw2 = testDispatcher(p2, { "smtp.test": "127.0.0.1" }, { sniffTimeoutMs: 150 });
    const port2 = await forwardTo(gw2, `smtp.test:${bannerPort}`);
    const b = await exchange(port2, [], { waitMs: 3000 });
    assert.equal(b.data.toString(), "220 ready\r\n");
    assert.ok(b.ms >= 140, `banner after ${b.ms} ms`);
  });

  it("relay failures are reported and close the agent side", async () => {
    const gw = testDispatcher(policy(), {}, { connectTimeoutMs: 500 });
    const port = await forwardTo(gw, "nothing-here.invalid:80");
    const r = await exchange(port, ["hi"], { waitMs: 3000 });
    assert.equal(r.closed, true);
    await until(() => eventsOf(gw.events, "relay-closed").length > 0, 3000, "relay-closed");
    const e = eventsOf(gw.events, "relay-closed")[0];
    assert.ok(e?.type === "relay-closed" && /^resolve nothing-here\.invalid/.test(e.error ?? ""));

    // A port nobody listens on.
    const dead = net.createServer();
    const deadPort = await listenLocal(dead);
    await closeServer(dead);
    const gw2 = testDispatcher(policy(), { "dead.test": "127.0.0.1" });
    const p2 = await forwardTo(gw2, `dead.test:${deadPort}`);
    const r2 = await exchange(p2, ["hi"], { waitMs: 3000 });
    assert.equal(r2.closed, true);
    await until(() => eventsOf(gw2.events, "relay-closed").length > 0, 3000, "relay-closed");
    const e2 = eventsOf(gw2.events, "relay-closed")[0];
    assert.ok(e2?.type === "relay-closed" && /ECONNREFUSED/.test(e2.error ?? ""));
  });

  it("a flow for a profile the policy lacks is rejected; the policy is read per flow (hot reload)", async () => {
    let current = policy();
    const rec = recorder();
    const gw = testDispatcher(() => current, {}, { handlers: { byFamily: { sql: rec.handler } } });
    const ghost = await forwardTo(gw, "db.example.test:5432", "ghost");
    const r = await exchange(ghost, ["x"], { waitMs: 2000 });
    assert.equal(r.closed, true);
    const e = eventsOf(gw.events, "flow-closed")[0];
    assert.ok(e?.type === "flow-closed" && /profile "ghost" is not in the policy/.test(e.reason));

    const port = await forwardTo(gw, "db.example.test:5432");
    await exchange(port, ["x"], { waitMs: 200 });
    assert.equal(rec.calls.length, 1);
    rec.calls[0]!.flow.stream.destroy();
    // Reload: the db endpoint is gone, so the same destination is now relayed.
    current = policyOf(`${GW}
endpoint "https" "api" { hosts = ["api.example.test"] }
credential "bearer_token" "api" { endpoint = https.api }
profile "default" { credentials = [bearer_token.api] }
`);
    await exchange(port, ["x"], { waitMs: 300 });
    assert.equal(rec.calls.length, 1);
    const last = eventsOf(gw.events, "route").at(-1);
    assert.ok(last?.type === "route" && last.route.kind === "relay");
  });

  it("close() tears down relays in progress and refuses new flows", async () => {
    const echo = await echoServer();
    closers.push(() => closeServer(echo.server));
    const gw = testDispatcher(policy(), { "echo.test": "127.0.0.1" });
    const port = await forwardTo(gw, `echo.test:${echo.port}`);
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("error", () => {});
    s.resume();
    s.write("hold");
    await until(() => gw.dispatcher.activeFlows === 1, 2000, "active flow");
    gw.dispatcher.close();
    await until(() => s.destroyed || s.readableEnded, 2000, "client torn down");
    assert.equal(gw.dispatcher.activeFlows, 0);
    const r = await exchange(port, ["late"], { waitMs: 2000 });
    assert.equal(r.closed, true);
    s.destroy();
  });
});
