import { test } from "node:test";
import assert from "node:assert/strict";
import { prng } from "../../testing/prng.js";
import { parseConnect, parseSocks5Greeting, parseSocks5Request, httpErrorResponse } from "./handshake.js";

const req = (atyp: number, addr: number[], port: number, cmd = 1) => Buffer.from([5, cmd, 0, atyp, ...addr, port >> 8, port & 0xff]);
const domain = (name: string) => [name.length, ...Buffer.from(name, "latin1")];

test("SOCKS5 greeting", () => {
  assert.deepEqual(parseSocks5Greeting(Buffer.from([])), { kind: "need-more" });
  assert.deepEqual(parseSocks5Greeting(Buffer.from([5])), { kind: "need-more" });
  assert.deepEqual(parseSocks5Greeting(Buffer.from([5, 2, 0])), { kind: "need-more" });
  assert.deepEqual(parseSocks5Greeting(Buffer.from([5, 2, 2, 0])), { kind: "ok", consumed: 4, noAuth: true });
  assert.deepEqual(parseSocks5Greeting(Buffer.from([5, 1, 2, 9, 9])), { kind: "ok", consumed: 3, noAuth: false });
  assert.deepEqual(parseSocks5Greeting(Buffer.from([5, 0])), { kind: "ok", consumed: 2, noAuth: false });
  assert.deepEqual(parseSocks5Greeting(Buffer.from([4, 1, 0])), { kind: "bad-version" });
});

test("SOCKS5 request: address types, commands, truncation", () => {
  assert.deepEqual(parseSocks5Request(req(1, [127, 0, 0, 1], 8080)), { kind: "ok", consumed: 10, destination: { host: "127.0.0.1", port: 8080 } });
  assert.deepEqual(parseSocks5Request(req(3, domain("svc.test"), 80)), { kind: "ok", consumed: 15, destination: { host: "svc.test", port: 80 } });
  const v6 = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1];
  assert.deepEqual(parseSocks5Request(req(4, v6, 443)), { kind: "ok", consumed: 22, destination: { host: "2001:db8::1", port: 443 } });
  // Trailing bytes are left for the flow.
  assert.equal((parseSocks5Request(Buffer.concat([req(1, [1, 2, 3, 4], 1), Buffer.from("hello")])) as { consumed: number }).consumed, 10);
  // Every strict prefix needs more.
  const full = req(3, domain("db.example.test"), 5432);
  for (let i = 0; i < full.length; i++) assert.equal(parseSocks5Request(full.subarray(0, i)).kind, "need-more", `prefix ${i}`);
  const refuse = (b: Buffer) => {
    const r = parseSocks5Request(b);
    return r.kind === "refuse" ? r.reply : r.kind;
  };
  assert.equal(refuse(req(1, [1, 2, 3, 4], 80, 2)), 0x07); // BIND
  assert.equal(refuse(req(1, [1, 2, 3, 4], 80, 3)), 0x07); // UDP ASSOCIATE
  assert.equal(refuse(req(9, [1, 2, 3, 4], 80)), 0x08);
  assert.equal(refuse(req(1, [1, 2, 3, 4], 0)), 0x01);
  assert.equal(refuse(Buffer.from([4, 1, 0, 1, 1, 2, 3, 4, 0, 80])), 0x01);
  assert.equal(refuse(req(3, domain(""), 80)), 0x04);
  assert.equal(refuse(req(3, domain("bad host"), 80)), 0x04);
  assert.equal(refuse(req(3, domain("a\u0000b"), 80)), 0x04);
  assert.equal(refuse(req(3, domain("x%0a.test"), 80)), 0x04);
  assert.equal(parseSocks5Request(req(3, domain("10.0.0.1"), 80)).kind, "ok"); // an IP written as a name
});

test("HTTP CONNECT", () => {
  const p = (s: string) => parseConnect(Buffer.from(s, "latin1"), 8192);
  assert.deepEqual(p("CONNECT svc.test:443 HTTP/1.1\r\nHost: svc.test:443\r\n\r\n"), {
    kind: "ok",
    consumed: 53,
    destination: { host: "svc.test", port: 443 },
  });
  assert.deepEqual(p("CONNECT [2001:db8::1]:22 HTTP/1.0\n\n"), { kind: "ok", consumed: 35, destination: { host: "2001:db8::1", port: 22 } });
  assert.equal((p("CONNECT a.test:1 HTTP/1.1\r\n\r\n\x16\x03\x01") as { consumed: number }).consumed, 29);
  assert.equal(p("CONNECT svc.test:443 HTTP/1.1\r\nHost: x").kind, "need-more");
  const status = (s: string) => {
    const r = p(s);
    return r.kind === "refuse" ? r.status : r.kind;
  };
  assert.equal(status("GET http://svc.test/ HTTP/1.1\r\nHost: svc.test\r\n\r\n"), 405);
  assert.equal(status("POST http://svc.test/ HTTP/1.1\r\n\r\n"), 405);
  assert.equal(status("CONNECT svc.test HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("CONNECT svc.test:0 HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("CONNECT svc.test:70000 HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("CONNECT 2001:db8::1:22 HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("CONNECT [nothex]:22 HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("CONNECT bad_host!:22 HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("CONNECT svc.test:443 HTTP/2.0\r\n\r\n"), 400);
  assert.equal(status("CONNECT  svc.test:443 HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("HELLO\r\n\r\n"), 400);
  assert.equal(parseConnect(Buffer.from(`CONNECT a.test:1 HTTP/1.1\r\nX: ${"a".repeat(9000)}`), 8192).kind, "refuse");
  assert.equal((parseConnect(Buffer.from(`CONNECT a.test:1 HTTP/1.1\r\nX: ${"a".repeat(9000)}\r\n\r\n`), 8192) as { status: number }).status, 431);
  const res = httpErrorResponse(405, "only CONNECT", { Allow: "CONNECT" }).toString();
  assert.match(res, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  assert.match(res, /\r\nAllow: CONNECT\r\n/);
  assert.match(res, /\r\nConnection: close\r\n/);
});

test("parsers never throw on random and mutated input (seeded, bounded)", () => {
  const rand = prng(0xc1a3);
  const seeds = [
    req(3, domain("svc.test"), 80),
    req(1, [127, 0, 0, 1], 443),
    Buffer.from("CONNECT svc.test:443 HTTP/1.1\r\nHost: svc.test\r\n\r\n"),
    Buffer.from([5, 2, 0, 1]),
  ];
  const deadline = Date.now() + 1000;
  let n = 0;
  while (Date.now() < deadline) {
    let b: Buffer;
    if (rand() < 0.5) {
      b = Buffer.alloc(Math.floor(rand() * 300));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
    } else {
      b = Buffer.from(seeds[Math.floor(rand() * seeds.length)]!);
      for (let k = 0; k < 3; k++) if (b.length) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      b = b.subarray(0, Math.floor(rand() * (b.length + 1)));
    }
    for (const f of [parseSocks5Greeting, parseSocks5Request, (x: Buffer) => parseConnect(x, 256)]) {
      const r = f(b);
      assert.ok(["need-more", "ok", "refuse", "bad-version"].includes(r.kind));
      if (r.kind === "ok" && "consumed" in r) assert.ok(r.consumed <= b.length);
    }
    n++;
  }
  assert.ok(n > 1000);
});
