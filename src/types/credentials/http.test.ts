// The request view and the injection wrapper every credential hook runs under.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { HttpInjector, SecretSlots } from "./http.js";
import { OutboundHttpRequest, applyHttpInjection, deriveIdempotencyKey, formDecode, isHeaderSafe, percentEncodeStrict } from "./http.js";
import { pluginBlock } from "../testing.js";

const block = pluginBlock("credential", "bearer_token", "t", {});
const slots = (m: Record<string, string>): SecretSlots => ({ get: (s?: string) => m[s ?? "secret"] });

test("target parsing keeps path and query bytes; absolute-form keeps the origin", () => {
  const r = new OutboundHttpRequest({ method: "GET", target: "/a%2Fb/c?x=1&y=%20&&z", headers: [] });
  assert.equal(r.path, "/a%2Fb/c");
  assert.equal(r.query, "x=1&y=%20&&z");
  assert.equal(r.target, "/a%2Fb/c?x=1&y=%20&&z");
  const abs = new OutboundHttpRequest({ method: "GET", target: "http://h.example:8080/p?q=1", headers: [] });
  assert.deepEqual([abs.origin, abs.path, abs.query, abs.target], ["http://h.example:8080", "/p", "q=1", "http://h.example:8080/p?q=1"]);
  const noQuery = new OutboundHttpRequest({ method: "GET", target: "/p", headers: [] });
  assert.equal(noQuery.query, undefined);
  assert.equal(noQuery.target, "/p");
  const emptyQuery = new OutboundHttpRequest({ method: "GET", target: "/p?", headers: [] });
  assert.equal(emptyQuery.target, "/p?");
});

test("headers: case-insensitive lookup, set replaces in place and drops duplicates, order kept", () => {
  const r = new OutboundHttpRequest({
    method: "GET",
    target: "/",
    headers: [["Host", "h"], ["X-A", "1"], ["accept", "*/*"], ["x-a", "2"], ["User-Agent", "ua"]],
  });
  assert.equal(r.header("x-a"), "1");
  assert.deepEqual(r.headerValues("X-A"), ["1", "2"]);
  r.setHeader("x-A", "new");
  assert.deepEqual(r.headers, [["Host", "h"], ["X-A", "new"], ["accept", "*/*"], ["User-Agent", "ua"]]);
  r.setHeader("Authorization", "v");
  assert.deepEqual(r.headers.at(-1), ["Authorization", "v"]);
  assert.equal(r.removeHeader("ACCEPT"), 1);
  assert.equal(r.removeHeader("accept"), 0);
  assert.deepEqual(r.headers.map(([n]) => n), ["Host", "X-A", "User-Agent", "Authorization"]);
});

test("query parameters: decoded lookup, replace and remove keep other parameters byte-exact", () => {
  const r = new OutboundHttpRequest({ method: "GET", target: "/p?a=%41&key=PH&b=x+y&k%65y=2&c", headers: [] });
  assert.equal(r.queryParam("key"), "PH");
  assert.equal(r.queryParam("b"), "x y");
  assert.equal(r.queryParam("c"), "");
  assert.equal(r.queryParam("zz"), undefined);
  assert.equal(r.replaceQueryParam("key", "S%3A1"), 2); // `k%65y` decodes to `key`
  assert.equal(r.query, "a=%41&key=S%3A1&b=x+y&k%65y=S%3A1&c");
  assert.equal(r.replaceQueryParam("absent", "v"), 0);
  assert.equal(r.removeQueryParam("key"), 2);
  assert.equal(r.query, "a=%41&b=x+y&c");
  const only = new OutboundHttpRequest({ method: "GET", target: "/p?token=x", headers: [] });
  only.removeQueryParam("token");
  assert.equal(only.target, "/p");
  assert.equal(formDecode("%E0%A4%A"), "%E0%A4%A"); // malformed stays as written
});

test("replaceBody updates Content-Length and refuses a truncated body", () => {
  const r = new OutboundHttpRequest({ method: "POST", target: "/", headers: [["Content-Length", "5"]], body: Buffer.from("a=1&b") });
  assert.ok(r.replaceBody(Buffer.from("a=1")));
  assert.equal(r.header("content-length"), "3");
  assert.ok(r.bodyChanged);
  const t = new OutboundHttpRequest({ method: "POST", target: "/", headers: [], body: Buffer.from("a"), bodyTruncated: true });
  assert.equal(t.replaceBody(Buffer.from("")), false);
  assert.equal(t.bodyChanged, false);
});

test("header safety and strict percent-encoding", () => {
  assert.ok(isHeaderSafe("abc\tdef ~!"));
  for (const bad of ["a\r\nX-Evil: 1", "a\nb", "a\0b", "a\x7fb", "snow\u2603"]) assert.equal(isHeaderSafe(bad), false, JSON.stringify(bad));
  assert.equal(percentEncodeStrict("a-b_c.d~e f/g:h+é"), "a-b_c.d~e%20f%2Fg%3Ah%2B%C3%A9");
});

test("applyHttpInjection: a failing or throwing hook leaves the request untouched", () => {
  const original = () =>
    new OutboundHttpRequest({ method: "POST", target: "/p?q=1", headers: [["Authorization", "Bearer PH"]], body: Buffer.from("x") });
  const failing: HttpInjector = {
    slots: [],
    inject(req) {
      req.setHeader("Authorization", "Bearer half-written");
      req.query = "changed";
      return { ok: false, error: "nope" };
    },
  };
  const throwing: HttpInjector = {
    slots: [],
    inject(req, ctx) {
      req.removeHeader("authorization");
      throw new Error(`boom with ${ctx.secret.get()}`);
    },
  };
  for (const inj of [failing, throwing]) {
    const r = original();
    const res = applyHttpInjection(inj, r, { secret: slots({ secret: "TOPSECRETVALUE" }), block });
    assert.equal(res.ok, false);
    assert.deepEqual(r.headers, [["Authorization", "Bearer PH"]]);
    assert.equal(r.target, "/p?q=1");
    if (!res.ok) assert.ok(!res.error.includes("TOPSECRETVALUE"), res.error);
  }
});

test("applyHttpInjection adds every slot value the hook read to the redaction set", () => {
  const forgetful: HttpInjector = {
    slots: [],
    inject(req, ctx) {
      req.setHeader("x-a", ctx.secret.get("a")!);
      req.setHeader("x-b", ctx.secret.get("b")!);
      return { ok: true, injected: [] };
    },
  };
  const r = new OutboundHttpRequest({ method: "GET", target: "/", headers: [] });
  const res = applyHttpInjection(forgetful, r, { secret: slots({ a: "value-a", b: "value-b" }), block });
  assert.deepEqual(res, { ok: true, injected: ["value-a", "value-b"] });
});

test("idempotency keys are deterministic and differ by every input", () => {
  const mk = (method: string, target: string, body: string, host = "api.example") =>
    new OutboundHttpRequest({ method, target, headers: [["Host", host]], body: Buffer.from(body) });
  const k = deriveIdempotencyKey("c", mk("POST", "/v1/charges", "amount=1"));
  assert.match(k, /^cp1-[0-9a-f]{32}$/);
  assert.equal(deriveIdempotencyKey("c", mk("POST", "/v1/charges", "amount=1")), k);
  assert.equal(deriveIdempotencyKey("c", mk("post", "/v1/charges", "amount=1", "API.example")), k);
  const others = [
    deriveIdempotencyKey("d", mk("POST", "/v1/charges", "amount=1")),
    deriveIdempotencyKey("c", mk("PUT", "/v1/charges", "amount=1")),
    deriveIdempotencyKey("c", mk("POST", "/v1/charges?x=1", "amount=1")),
    deriveIdempotencyKey("c", mk("POST", "/v1/charges", "amount=2")),
    deriveIdempotencyKey("c", mk("POST", "/v1/charges", "amount=1", "other.example")),
  ];
  assert.equal(new Set([k, ...others]).size, 6);
});
