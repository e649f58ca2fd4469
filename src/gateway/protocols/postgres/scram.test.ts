/**
 * The SCRAM-SHA-256 and MD5 clients against independent computations: the
 * RFC 7677 test vector is reproduced by a reference implementation written
 * here from the RFC 5802 formulas (node:crypto primitives only), and our
 * client — which sends Postgres' empty `n=` user — must agree with that
 * reference for its own client-first-bare.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { md5Password, ScramClient } from "./scram.js";

const PASSWORD = "pencil";
const CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

/** RFC 5802 §3, written out independently of ./scram.ts. */
function reference(clientFirstBare: string, serverFirst: string, password: string): { clientFinal: string; serverFinal: string } {
  const attrs = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256");
  const h = (k: Buffer, s: string) => createHmac("sha256", k).update(s).digest();
  const clientKey = h(salted, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${attrs.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const clientSignature = h(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ clientSignature[i]!));
  const serverSignature = h(h(salted, "Server Key"), authMessage);
  return { clientFinal: `${withoutProof},p=${proof.toString("base64")}`, serverFinal: `v=${serverSignature.toString("base64")}` };
}

describe("SCRAM-SHA-256", () => {
  it("the reference reproduces the RFC 7677 vector for client-first-bare n=user", () => {
    const ref = reference(`n=user,r=${CLIENT_NONCE}`, SERVER_FIRST, PASSWORD);
    assert.equal(ref.clientFinal, RFC_CLIENT_FINAL);
    assert.equal(ref.serverFinal, RFC_SERVER_FINAL);
  });

  it("our client (n= empty user, as Postgres) matches the reference proof and accepts its server signature", async () => {
    const c = new ScramClient(PASSWORD, CLIENT_NONCE);
    assert.equal(c.clientFirst(), `n,,n=,r=${CLIENT_NONCE}`);
    const ref = reference(`n=,r=${CLIENT_NONCE}`, SERVER_FIRST, PASSWORD);
    const final = await c.clientFinal(SERVER_FIRST);
    assert.equal(final, ref.clientFinal);
    // Same nonce echo as the RFC, different proof (the AuthMessage differs by the user).
    assert.equal(final.slice(0, final.indexOf(",p=")), RFC_CLIENT_FINAL.slice(0, RFC_CLIENT_FINAL.indexOf(",p=")));
    assert.notEqual(final, RFC_CLIENT_FINAL);
    c.verifyServerFinal(ref.serverFinal);
  });

  it("rejects the RFC's server signature (computed over n=user) and any other wrong one", async () => {
    const c = new ScramClient(PASSWORD, CLIENT_NONCE);
    await c.clientFinal(SERVER_FIRST);
    assert.throws(() => c.verifyServerFinal(RFC_SERVER_FINAL), /mismatch/);
    const good = reference(`n=,r=${CLIENT_NONCE}`, SERVER_FIRST, PASSWORD).serverFinal;
    const sig = Buffer.from(good.slice(2), "base64");
    sig[0]! ^= 1;
    assert.throws(() => c.verifyServerFinal(`v=${sig.toString("base64")}`), /mismatch/);
    assert.throws(() => c.verifyServerFinal(`v=${sig.subarray(0, 31).toString("base64")}`), /mismatch/);
    assert.throws(() => c.verifyServerFinal("e=invalid-proof"), /invalid-proof/);
    assert.throws(() => c.verifyServerFinal(""), /missing/);
  });

  it("rejects a server signature from a server that does not know the password", async () => {
    const c = new ScramClient(PASSWORD, CLIENT_NONCE);
    await c.clientFinal(SERVER_FIRST);
    const spoof = reference(`n=,r=${CLIENT_NONCE}`, SERVER_FIRST, "not-pencil").serverFinal;
    assert.throws(() => c.verifyServerFinal(spoof), /mismatch/);
  });

  it("refuses to verify before the exchange", () => {
    const c = new ScramClient(PASSWORD, CLIENT_NONCE);
    assert.throws(() => c.verifyServerFinal(RFC_SERVER_FINAL), /missing/);
  });

  it("rejects a server nonce that does not extend ours", async () => {
    const c = new ScramClient(PASSWORD, CLIENT_NONCE);
    const rest = ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    for (const r of [
      "r=somethingElse%hvYDpWUa2RaTCAfuxFIlj",
      `r=${CLIENT_NONCE}`, // not extended at all
      `r=${CLIENT_NONCE.slice(1)}xyz`,
      `r=X${CLIENT_NONCE}xyz`,
      "r=",
    ]) {
      await assert.rejects(c.clientFinal(r + rest), /nonce/, r);
    }
    await assert.rejects(c.clientFinal("s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), /nonce/);
  });

  it("rejects malformed salt or iteration counts", async () => {
    const c = new ScramClient(PASSWORD, CLIENT_NONCE);
    const r = `r=${CLIENT_NONCE}abc`;
    for (const sf of [`${r},i=4096`, `${r},s=AAAA`, `${r},s=AAAA,i=0`, `${r},s=AAAA,i=-1`, `${r},s=AAAA,i=1.5`, `${r},s=AAAA,i=x`, `${r},s=AAAA,i=99999999`]) {
      await assert.rejects(c.clientFinal(sf), /malformed/, sf);
    }
  });

  it("uses a fresh random nonce per client", () => {
    const a = new ScramClient("p").clientFirst();
    const b = new ScramClient("p").clientFirst();
    assert.match(a, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
    assert.notEqual(a, b);
  });
});

describe("md5Password", () => {
  it("is md5 + md5hex(md5hex(password + user) + salt)", () => {
    const md5 = (b: Buffer | string) => createHash("md5").update(b).digest("hex");
    const salt = Buffer.from([0x01, 0xff, 0x00, 0x7f]);
    const want = "md5" + md5(Buffer.concat([Buffer.from(md5("secret" + "alice")), salt]));
    assert.equal(md5Password("alice", "secret", salt), want);
    assert.match(want, /^md5[0-9a-f]{32}$/);
    // user and password are not interchangeable, and the salt matters
    assert.notEqual(md5Password("secret", "alice", salt), want);
    assert.notEqual(md5Password("alice", "secret", Buffer.from([1, 2, 3, 4])), want);
  });

  it("matches a fixed value (computed offline with Python's hashlib)", () => {
    // md5("postgrespostgres") = 3175bce1d3201d16594cebf9d7eb3f9d; md5 of that + "abcd":
    assert.equal(md5Password("postgres", "postgres", Buffer.from("abcd")), "md50800ba833a175e428fc0110c29998942");
  });
});
