import { test } from "node:test";
import assert from "node:assert/strict";
import { StaticResolver } from "./resolve.js";

test("static map first (case-insensitive, root dot), IP literals as-is, then the lookup", async () => {
  const asked: string[] = [];
  const r = new StaticResolver({ "Svc.Test": "127.0.0.1", "v6.test": "::1" }, async (h) => {
    asked.push(h);
    return "192.0.2.10";
  });
  assert.equal(await r.resolve("svc.test"), "127.0.0.1");
  assert.equal(await r.resolve("SVC.TEST."), "127.0.0.1");
  assert.equal(await r.resolve("v6.test"), "::1");
  assert.equal(await r.resolve("10.1.2.3"), "10.1.2.3");
  assert.equal(await r.resolve("2001:db8::1"), "2001:db8::1");
  assert.equal(await r.resolve("[2001:db8::2]"), "2001:db8::2");
  assert.equal(await r.resolve("elsewhere.test"), "192.0.2.10");
  assert.equal(await r.resolve("sub.svc.test"), "192.0.2.10"); // exact names only
  assert.deepEqual(asked, ["elsewhere.test", "sub.svc.test"]);
  await assert.rejects(r.resolve(""), /empty host/);
});

test("the system resolver is the default fallback", async () => {
  const r = new StaticResolver();
  assert.match(await r.resolve("localhost"), /^(127\.0\.0\.1|::1)$/);
  await assert.rejects(r.resolve("does-not-exist.invalid"));
});

test("a non-IP map value is refused at construction", () => {
  assert.throws(() => new StaticResolver({ "a.test": "b.test" }), /not an IP address/);
});
