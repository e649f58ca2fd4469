import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import type { ApprovalEvent } from "../../approvals.js";
import { gzipSync } from "node:zlib";
import { policyOf } from "../../../config/testing.js";
import { API_HOST, API_SECRET, Harness, PLACEHOLDER, POLICY_HCL, sha256, until, wsEcho, wsFrame, wsParse } from "./testkit.js";

const h = new Harness();
let port = 0;

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function fetchVia(path: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; agent?: Agent; chunked?: boolean } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        servername: API_HOST,
        ca: h.gatewayCa.certPem,
        method: opts.method ?? "GET",
        path,
        agent: opts.agent ?? false,
        headers: { host: API_HOST, authorization: `Bearer ${PLACEHOLDER}`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          h.received.push(Buffer.from(JSON.stringify(res.rawHeaders)), body);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (opts.body && opts.chunked) {
      // Several writes without Content-Length: chunked framing.
      for (let i = 0; i < opts.body.length; i += 50_000) req.write(opts.body.subarray(i, i + 50_000));
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

/** Runs curl without blocking the event loop (the gateway under test lives in this process). */
function curl(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn("curl", ["--max-time", "10", ...args]);
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

before(async () => {
  await h.start();
  port = await h.listen(() => ({ endpoint: "api", destination: { host: API_HOST, port: h.api.port } }));
  h.api.routes.set("/hello", (req, res) => {
    res.writeHead(200, {
      "content-type": "application/json",
      "set-cookie": ["session=abc; Secure", "other=1"],
      "alt-svc": 'h3=":443"; ma=86400',
      "www-authenticate": "Bearer realm=x",
      "public-key-pins": 'pin-sha256="x"; max-age=1',
      "x-upstream": "yes",
    });
    res.end(JSON.stringify({ hello: "world", authorized: req.headers.authorization === `Bearer ${API_SECRET}` }));
  });
  h.api.routes.set("/echo", (req, res) => {
    const auth = String(req.headers.authorization);
    res.writeHead(200, { "content-type": "text/plain", "x-echo": `you sent ${auth}` });
    const half = Math.floor(API_SECRET.length / 2);
    res.write(`token=${API_SECRET.slice(0, half)}`);
    setTimeout(() => {
      res.write(`${API_SECRET.slice(half)}; b64=${Buffer.from(API_SECRET).toString("base64")}`);
      setTimeout(() => res.end(" end"), 10);
    }, 30);
  });
  h.api.routes.set("/upload", (_req, res, body) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ length: body.length, sha256: sha256(body) }));
  });
  h.api.routes.set("/approve*", (_req, res) => res.end("approved-ok"));
});

after(async () => {
  await h.stop();
});

describe("HTTP interception", () => {
  it("an allowed GET reaches upstream with the real token; the client sent a placeholder", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = h.api.count("/hello");
    const r = await fetchVia("/hello", { agent });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { hello: "world", authorized: true });
    const seen = h.api.seen.filter((s) => s.url === "/hello").at(-1)!;
    assert.equal(seen.headers.authorization, `Bearer ${API_SECRET}`);
    assert.equal(h.api.count("/hello"), before + 1);
    // Sanitised: no cookies, auth challenges, Alt-Svc or pins; the rest passes.
    for (const dropped of ["set-cookie", "alt-svc", "www-authenticate", "public-key-pins"]) assert.equal(r.headers[dropped], undefined, dropped);
    assert.equal(r.headers["x-upstream"], "yes");
    // Keep-alive: a second request on the same agent connection.
    const conns = h.interceptor.connections;
    const r2 = await fetchVia("/hello", { agent });
    assert.equal(r2.status, 200);
    assert.equal(h.interceptor.connections, conns);
    agent.destroy();
    const rec = h.audits.filter((a) => a.summary === "GET /hello").at(-1)!;
    assert.equal(rec.verdict, "allow");
    assert.equal(rec.credential, "api");
    assert.equal(rec.endpoint, "https.api");
    assert.equal(rec.status, 200);
    assert.equal(rec.device, "laptop");
    assert.equal((rec.reqHeaders as Record<string, string>)["authorization"], "***");
    assert.equal((rec.respHeaders as Record<string, unknown>)["set-cookie"]?.toString(), "***,***");
  });

  it("a denied POST gets 403 with the reason and never reaches upstream", async () => {
    const before = h.api.seen.length;
    const r = await fetchVia("/forbidden", { method: "POST", body: Buffer.from('{"x":1}'), headers: { "content-type": "application/json" } });
    assert.equal(r.status, 403);
    assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(r.headers["connection"], "close");
    assert.equal(r.body.toString(), "posting to /forbidden is not allowed");
    assert.equal(h.api.seen.length, before);
    await until(() => h.audits.some((a) => a.summary === "POST /forbidden"));
    const rec = h.audits.find((a) => a.summary === "POST /forbidden")!;
    assert.deepEqual([rec.verdict, rec.rule, rec.status, rec.reqBody], ["deny", "no-forbidden-posts", 403, '{"x":1}']);
  });

  it("a body past body_buffer fails closed for a body rule, but a method-only rule forwards every byte", async () => {
    const big = Buffer.concat([randomBytes(150_000), Buffer.from("DROP TABLE"), randomBytes(150_000)]);
    const before = h.api.seen.length;
    const denied = await fetchVia("/inspect", { method: "PUT", body: big });
    assert.equal(denied.status, 403);
    assert.match(denied.body.toString(), /rule "inspect-body" could not be evaluated against this request \(truncated at the inspection buffer\); failing closed/);
    assert.equal(h.api.seen.length, before);

    for (const chunked of [false, true]) {
      const ok = await fetchVia("/upload", { method: "PUT", body: big, chunked });
      assert.equal(ok.status, 200, ok.body.toString());
      assert.deepEqual(JSON.parse(ok.body.toString()), { length: big.length, sha256: sha256(big) });
    }
    const rec = h.audits.filter((a) => a.summary === "PUT /upload").at(-1)!;
    assert.equal(rec.bytesIn, big.length);
    assert.ok(rec.flags.includes("inspection_truncated") && rec.flags.includes("req_body_truncated"));
    assert.ok(rec.reqBody !== null && rec.reqBody.length <= h.limits.bodyStorage);
  });

  it("approval: the request waits; allow completes it, deny refuses it, a vanished client cancels it", async () => {
    const pending: string[] = [];
    const finished: ApprovalEvent[] = [];
    const off = h.approvals.subscribe((e) => {
      if (e.type === "pending") pending.push(e.approval.id);
      if (e.type === "finished") finished.push(e);
    });
    try {
      // allow
      const allowed = fetchVia("/approve/a", { method: "POST", body: Buffer.from("x") });
      await until(() => pending.length === 1, 5000, "pending approval");
      assert.equal(h.api.count("/approve/a"), 0, "upstream not called while pending");
      assert.ok(h.approvals.decide(pending[0]!, "allow", "alice"));
      const a = await allowed;
      assert.deepEqual([a.status, a.body.toString()], [200, "approved-ok"]);
      assert.equal(h.api.count("/approve/a"), 1);

      // deny
      const denied = fetchVia("/approve/b", { method: "POST" });
      await until(() => pending.length === 2, 5000, "second approval");
      h.approvals.decide(pending[1]!, "deny", "bob", "not today");
      const d = await denied;
      assert.deepEqual([d.status, d.body.toString()], [403, "not today"]);
      assert.equal(h.api.count("/approve/b"), 0);

      // the client disconnects while pending
      const sock = connect({ host: "127.0.0.1", port, servername: API_HOST, ca: h.gatewayCa.certPem });
      sock.on("error", () => {});
      await new Promise<void>((r) => sock.once("secureConnect", () => r()));
      sock.write(`POST /approve/c HTTP/1.1\r\nHost: ${API_HOST}\r\nAuthorization: Bearer ${PLACEHOLDER}\r\nContent-Length: 0\r\n\r\n`);
      await until(() => pending.length === 3, 5000, "third approval");
      sock.destroy();
      await until(() => finished.length === 3, 5000, "cancellation");
      const last = finished[2]!;
      assert.ok(last.type === "finished" && last.outcome.cancelled === true && last.outcome.verdict === "deny");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(h.api.count("/approve/c"), 0, "upstream never called for the cancelled request");
      await until(() => h.audits.some((x) => x.summary === "POST /approve/c"));
      const rec = h.audits.find((x) => x.summary === "POST /approve/c")!;
      assert.equal(rec.verdict, "deny");
      assert.ok(rec.flags.includes("approval_cancelled") || rec.flags.includes("client_disconnected"));
      const recA = h.audits.find((x) => x.summary === "POST /approve/a")!;
      assert.deepEqual([recA.verdict, recA.approvals[0]?.decision, recA.approvals[0]?.by], ["allow", "allow", "alice"]);
    } finally {
      off();
    }
  });

  it("an approval that times out is a 403 with the reason; upstream is never called", async () => {
    const t0 = Date.now();
    const r = await fetchVia("/slow", { method: "POST" });
    assert.equal(r.status, 403);
    assert.equal(r.body.toString(), 'approver "sleepy" did not answer within 1s');
    assert.ok(Date.now() - t0 >= 900);
    assert.equal(h.api.count("/slow"), 0);
  });

  it("a policy reload applies to the next request on a kept-alive connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const saved = h.policy;
    try {
      assert.equal((await fetchVia("/reload", { agent })).status, 200);
      h.policy = policyOf(POLICY_HCL.replace('rule "uploads" {', 'rule "reloaded" {\n  endpoint = https.api\n  condition = "http.path == \'/reload\'"\n  verdict = "deny"\n  reason = "changed by reload"\n}\nrule "uploads" {'));
      const r = await fetchVia("/reload", { agent });
      assert.deepEqual([r.status, r.body.toString()], [403, "changed by reload"]);
    } finally {
      h.policy = saved;
      agent.destroy();
    }
  });

  it("a gzip response carrying the secret is decoded and redacted; an unknown encoding is refused", async () => {
    h.api.routes.set("/gz", (req, res) => {
      assert.equal(req.headers["accept-encoding"], "identity");
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" });
      res.end(gzipSync(Buffer.from(`echo ${API_SECRET} done`)));
    });
    h.api.routes.set("/zz", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "zstd" });
      res.end("opaque");
    });
    const gz = await fetchVia("/gz", { headers: { "accept-encoding": "gzip" } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers["content-encoding"], undefined);
    assert.equal(gz.body.toString(), "echo *** done");
    const zz = await fetchVia("/zz");
    assert.equal(zz.status, 502);
  });

  it("SSE: the first event reaches the client before upstream ends the stream (credential injected, so redaction is on)", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    h.api.routes.set("/sse", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: one\n\n");
      void released.then(() => {
        res.write("data: two\n\n");
        res.end();
      });
    });
    const t0 = Date.now();
    const first = await new Promise<{ text: string; rest: Promise<string> }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, servername: API_HOST, ca: h.gatewayCa.certPem, path: "/sse", agent: false, headers: { host: API_HOST, authorization: `Bearer ${PLACEHOLDER}` } }, (res) => {
        let all = "";
        let resolveRest!: (s: string) => void;
        const rest = new Promise<string>((r) => (resolveRest = r));
        res.on("data", (c: Buffer) => {
          all += c.toString();
          if (all.includes("data: one\n\n") && !all.includes("two")) resolve({ text: all, rest });
        });
        res.on("end", () => resolveRest(all));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(first.text, "data: one\n\n");
    release();
    assert.equal(await first.rest, "data: one\n\ndata: two\n\n");
    assert.ok(Date.now() - t0 < 5000);
  });

  it("an injected secret echoed by upstream is redacted from headers and the streamed body", async () => {
    const r = await fetchVia("/echo");
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-echo"], "you sent Bearer ***");
    assert.equal(r.body.toString(), "token=***; b64=*** end");
    assert.ok(!r.body.includes(API_SECRET));
    assert.equal(r.headers["content-length"], undefined);
  });

  it("a WebSocket echo works through an allowed upgrade; the handshake carries the injected token", async () => {
    let upstreamAuth = "";
    h.api.upgrades.set("/ws", wsEcho((req) => (upstreamAuth = String(req.headers.authorization))));
    const sock = connect({ host: "127.0.0.1", port, servername: API_HOST, ca: h.gatewayCa.certPem });
    sock.on("error", () => {});
    await new Promise<void>((r) => sock.once("secureConnect", () => r()));
    sock.write(
      `GET /ws HTTP/1.1\r\nHost: ${API_HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${PLACEHOLDER}\r\n\r\n`,
    );
    let buf = Buffer.alloc(0);
    const read = (pred: (b: Buffer) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pred(buf)) {
            sock.off("data", onData);
            resolve();
          }
        };
        const onData = (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          h.received.push(d);
          check();
        };
        sock.on("data", onData);
        sock.once("close", () => reject(new Error(`closed; got ${buf.toString()}`)));
        check();
      });
    await read((b) => b.includes("\r\n\r\n"));
    const headEnd = buf.indexOf("\r\n\r\n") + 4;
    const head = buf.subarray(0, headEnd).toString();
    buf = buf.subarray(headEnd);
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    assert.doesNotMatch(head, /set-cookie/i);
    assert.equal(upstreamAuth, `Bearer ${API_SECRET}`);
    sock.write(wsFrame("hello through the gateway", true));
    await read((b) => wsParse(b) !== undefined);
    assert.equal(wsParse(buf)!.text, "hello through the gateway");
    sock.destroy();
    await until(() => h.audits.some((a) => a.summary === "GET /ws"));
    const rec = h.audits.find((a) => a.summary === "GET /ws")!;
    assert.equal(rec.status, 101);
    assert.ok(rec.flags.includes("upgrade"));
    assert.ok(rec.bytesIn > 0 && rec.bytesOut > 0);
  });

  it("a Host header naming another site is refused (421) before policy and upstream", async () => {
    const before = h.api.seen.length;
    const r = await fetchVia("/hello", { headers: { host: "evil.example" } });
    assert.equal(r.status, 421);
    assert.equal(h.api.seen.length, before);
  });

  it("hostile bytes get 400 / 431 and a closed connection, and nothing else breaks", async () => {
    const raw = (payload: string) =>
      new Promise<string>((resolve) => {
        const sock = connect({ host: "127.0.0.1", port, servername: API_HOST, ca: h.gatewayCa.certPem });
        let got = "";
        sock.on("error", () => {});
        sock.on("secureConnect", () => sock.write(payload));
        sock.on("data", (d: Buffer) => (got += d.toString()));
        sock.on("close", () => resolve(got));
      });
    assert.match(await raw("GARBAGE\r\n\r\n"), /^HTTP\/1\.1 400 /);
    assert.match(await raw(`GET / HTTP/1.1\r\nHost: ${API_HOST}\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    assert.match(await raw(`GET http://other.example/ HTTP/1.1\r\nHost: ${API_HOST}\r\n\r\n`), /^HTTP\/1\.1 400 /);
    assert.equal((await fetchVia("/hello")).status, 200);
  });

  it("upstream failures become a generic 502", async () => {
    const dead = await h.listen(() => ({ endpoint: "api", destination: { host: API_HOST, port: 1 } }));
    const saved = port;
    port = dead;
    try {
      const r = await fetchVia("/hello");
      assert.equal(r.status, 502);
      assert.equal(r.body.toString(), "bad gateway: the upstream request failed");
    } finally {
      port = saved;
    }
  });

  it("real curl: allowed GET with the placeholder, denied POST with the reason", async () => {
    const probe = spawnSync("curl", ["--version"], { encoding: "utf8" });
    if (probe.status !== 0) {
      if (process.env.CI) assert.fail("curl is required in CI");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "cp-http-"));
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, h.gatewayCa.certPem);
    const base = ["-sS", "--cacert", ca, "--connect-to", `${API_HOST}:443:127.0.0.1:${port}`, "-H", `Authorization: Bearer ${PLACEHOLDER}`];
    const ok = await curl([...base, "-i", `https://${API_HOST}/hello`]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^HTTP\/1\.1 200/);
    assert.match(ok.stdout, /"authorized":true/);
    assert.doesNotMatch(ok.stdout, /set-cookie|alt-svc/i);
    h.received.push(Buffer.from(ok.stdout));
    const denied = await curl([...base, "-X", "POST", "-d", "x=1", "-w", "\n%{http_code}", `https://${API_HOST}/forbidden`]);
    assert.equal(denied.status, 0, denied.stderr);
    assert.equal(denied.stdout, "posting to /forbidden is not allowed\n403");
    // A 2 MiB upload: curl sends `Expect: 100-continue`; the body passes the 64 KiB buffer and still arrives whole.
    const file = join(dir, "upload.bin");
    const blob = randomBytes(2 * 1024 * 1024);
    writeFileSync(file, blob);
    const up = await curl([...base, "-T", file, `https://${API_HOST}/upload`]);
    assert.equal(up.status, 0, up.stderr);
    assert.deepEqual(JSON.parse(up.stdout), { length: blob.length, sha256: sha256(blob) });
    const echoed = await curl([...base, "-i", `https://${API_HOST}/echo`]);
    assert.ok(!echoed.stdout.includes(API_SECRET));
    h.received.push(Buffer.from(echoed.stdout));
  });

  it("overhead per keep-alive request (log only)", async () => {
    const direct = new Agent({ keepAlive: true, maxSockets: 1 });
    const via = new Agent({ keepAlive: true, maxSockets: 1 });
    const n = 300;
    const time = async (fn: () => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) await fn();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await fn();
      return Number(process.hrtime.bigint() - t0) / 1000 / n;
    };
    const directUs = await time(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request(
            { host: "127.0.0.1", port: h.api.port, servername: API_HOST, ca: h.upstreamCa.certPem, path: "/plain", agent: direct, headers: { host: API_HOST } },
            (res) => {
              res.resume();
              res.on("end", () => resolve());
            },
          );
          req.on("error", reject);
          req.end();
        }),
    );
    const viaUs = await time(async () => {
      await fetchVia("/plain", { agent: via });
    });
    direct.destroy();
    via.destroy();
    console.log(`# keep-alive GET: direct ${directUs.toFixed(0)} µs, through the interceptor ${viaUs.toFixed(0)} µs, overhead ${(viaUs - directUs).toFixed(0)} µs/request`);
  });

  it("no secret bytes in anything the client received, the audit records or the logs", async () => {
    await new Promise((r) => setTimeout(r, 50));
    const secret = Buffer.from(API_SECRET);
    for (const b of h.received) assert.ok(!b.includes(secret), `client received the secret: ${b.toString().slice(0, 200)}`);
    const audit = JSON.stringify(h.audits, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v));
    assert.ok(h.audits.length >= 10);
    assert.ok(!audit.includes(API_SECRET), "audit holds the secret");
    assert.ok(!audit.includes(Buffer.from(API_SECRET).toString("base64")), "audit holds the base64 secret");
    assert.ok(!h.log.lines.join("\n").includes(API_SECRET), "logs hold the secret");
  });
});
