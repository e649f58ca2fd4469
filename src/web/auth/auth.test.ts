import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { openMemoryStore } from "../../store/db.js";
import { SESSION_COOKIE } from "../api.js";
import { hashPassword, passwordProblem, verifyPassword } from "./password.js";
import { AuthService } from "./service.js";
import { FREE_FAILURES, LoginThrottle } from "./throttle.js";
import { parseCookies, safeEqual, sessionCookie } from "./tokens.js";

const reqWith = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

describe("password hashing", () => {
  it("verifies the right password and refuses a wrong one", async () => {
    const h = await hashPassword("correct horse battery");
    assert.equal(await verifyPassword("correct horse battery", h), true);
    assert.equal(await verifyPassword("correct horse batterY", h), false);
    assert.equal(await verifyPassword("", h), false);
  });

  it("uses a versioned scrypt encoding with a random salt", async () => {
    const a = await hashPassword("same password!");
    const b = await hashPassword("same password!");
    assert.match(a, /^\$scrypt\$v=1\$ln=15,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b, "salted");
    assert.ok(!a.includes("same password"));
  });

  it("treats malformed or tampered hashes as a mismatch, never a throw", async () => {
    const h = await hashPassword("correct horse battery");
    assert.equal(await verifyPassword("correct horse battery", h.replace("ln=15", "ln=30")), false, "cost out of bounds");
    assert.equal(await verifyPassword("correct horse battery", h.slice(0, -2) + (h.endsWith("AA") ? "BB" : "AA")), false);
    assert.equal(await verifyPassword("x", "plaintext"), false);
  });

  it("requires at least 10 characters", () => {
    assert.match(passwordProblem("123456789") ?? "", /at least 10/);
    assert.equal(passwordProblem("1234567890"), undefined);
    assert.match(passwordProblem(42) ?? "", /string/);
  });
});

describe("sessions", () => {
  it("expire after the TTL; the store deletes them", async () => {
    let now = 1_000_000;
    const store = openMemoryStore({ now: () => now });
    const auth = new AuthService(store.users, () => 60_000, () => now);
    assert.equal(await auth.setup("admin", "correct horse battery"), true);
    assert.equal(await auth.setup("admin2", "correct horse battery"), false, "setup only once");
    const { token, session } = auth.startSession("admin");
    assert.equal(session.expiresAt, now + 60_000);
    const req = reqWith({ cookie: `other=1; ${SESSION_COOKIE}=${token}` });
    assert.equal(auth.authenticate(req)?.username, "admin");
    now += 59_999;
    assert.equal(auth.authenticate(req)?.via, "session");
    now += 1;
    assert.equal(auth.authenticate(req), undefined, "expired");
    assert.equal(store.db.prepare("SELECT COUNT(*) FROM web_sessions").pluck().get(), 0);
    store.close();
  });

  it("store only hashes of session and API tokens", async () => {
    const store = openMemoryStore();
    const auth = new AuthService(store.users, () => 60_000);
    await auth.setup("admin", "correct horse battery");
    const { token } = auth.startSession("admin");
    const api = auth.createToken("admin", "ci");
    const dump = JSON.stringify([store.db.prepare("SELECT * FROM web_sessions").all(), store.db.prepare("SELECT * FROM api_tokens").all()]);
    assert.ok(!dump.includes(token) && !dump.includes(api.token));
    assert.equal(auth.authenticate(reqWith({ authorization: `Bearer ${api.token}` }))?.via, "token");
    assert.equal(auth.authenticate(reqWith({ authorization: `Bearer ${api.token}x` })), undefined);
    // A bad Authorization header is not rescued by a good cookie.
    assert.equal(auth.authenticate(reqWith({ authorization: "Bearer nope", cookie: `${SESSION_COOKIE}=${token}` })), undefined);
    store.close();
  });

  it("a changed password ends the user's sessions; deleting a user ends sessions and tokens", async () => {
    const store = openMemoryStore();
    const auth = new AuthService(store.users, () => 60_000);
    await auth.setup("admin", "correct horse battery");
    await auth.createUser("bob", "viewer", "bob password 1");
    const s = auth.startSession("bob");
    const t = auth.createToken("bob", "x");
    await auth.setPassword("bob", "bob password 2");
    assert.equal(auth.authenticate(reqWith({ cookie: `${SESSION_COOKIE}=${s.token}` })), undefined);
    assert.ok(auth.authenticate(reqWith({ authorization: `Bearer ${t.token}` })));
    store.users.delete("bob");
    assert.equal(auth.authenticate(reqWith({ authorization: `Bearer ${t.token}` })), undefined);
    assert.throws(() => store.users.delete("admin"), /last admin/);
    store.close();
  });
});

describe("login throttle", () => {
  it("lets 5 failures through, then backs off exponentially; success resets", () => {
    let now = 0;
    const t = new LoginThrottle(() => now);
    for (let i = 0; i < FREE_FAILURES - 1; i++) {
      t.failure("1.2.3.4");
      assert.equal(t.retryAfter("1.2.3.4"), 0);
    }
    t.failure("1.2.3.4");
    assert.equal(t.retryAfter("1.2.3.4"), 1000);
    assert.equal(t.retryAfter("5.6.7.8"), 0, "per address");
    now += 1000;
    assert.equal(t.retryAfter("1.2.3.4"), 0);
    t.failure("1.2.3.4");
    assert.equal(t.retryAfter("1.2.3.4"), 2000);
    t.failure("1.2.3.4");
    assert.equal(t.retryAfter("1.2.3.4"), 4000);
    t.success("1.2.3.4");
    assert.equal(t.retryAfter("1.2.3.4"), 0);
  });
});

describe("cookies and comparisons", () => {
  it("builds the session cookie with the required attributes", () => {
    assert.equal(sessionCookie("c", "v", 86_400_000, false), "c=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400");
    assert.match(sessionCookie("c", "v", 1000, true), /; Secure$/);
    assert.equal(parseCookies("a=1; b=2; a=3").get("a"), "1");
    assert.equal(safeEqual("abc", "abc"), true);
    assert.equal(safeEqual("abc", "abd"), false);
    assert.equal(safeEqual("abc", "abcd"), false);
  });
});
