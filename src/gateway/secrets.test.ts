import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretFileError, SecretResolver, envVarCollisions, secretEnvVar } from "./secrets.js";
import type { SecretStore } from "./secrets.js";

function store(rows: Record<string, string>): SecretStore & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    get(name, slot) {
      calls.push(`${name}.${slot}`);
      return rows[`${name}.${slot}`];
    },
  };
}

test("environment variable names: upper case, non-alphanumerics become _, slots suffixed", () => {
  assert.equal(secretEnvVar("orb-test"), "CLAWPATROL_SECRET_ORB_TEST");
  assert.equal(secretEnvVar("orb-test", "secret"), "CLAWPATROL_SECRET_ORB_TEST");
  assert.equal(secretEnvVar("k8s.prod", "cert"), "CLAWPATROL_SECRET_K8S_PROD_CERT");
  assert.equal(secretEnvVar("slack", "signing_secret"), "CLAWPATROL_SECRET_SLACK_SIGNING_SECRET");
  assert.equal(secretEnvVar("GitHub Prod/é"), "CLAWPATROL_SECRET_GITHUB_PROD__");
  assert.equal(secretEnvVar("a-b", "c-d"), "CLAWPATROL_SECRET_A_B_C_D");
});

test("lossy mangling is reported as collisions", () => {
  const c = envVarCollisions([
    { credential: "a-b", slot: "c" },
    { credential: "a", slot: "b_c" },
    { credential: "a_b_c" },
    { credential: "orb-test" },
    { credential: "orb-test", slot: "secret" },
  ]);
  assert.deepEqual([...c.entries()], [["CLAWPATROL_SECRET_A_B_C", ["a-b.c", "a.b_c", "a_b_c"]]]);
});

test("the store wins over the environment; empty values count as unset", () => {
  const env = { CLAWPATROL_SECRET_GH: "from-env-1", CLAWPATROL_SECRET_GH_APP: "from-env-2", CLAWPATROL_SECRET_EMPTY: "" };
  const s = store({ "gh.secret": "from-store", "gh.app": "" });
  const r = new SecretResolver({ store: s, env });
  assert.equal(r.get("gh"), "from-store");
  assert.deepEqual(s.calls, ["gh.secret"]);
  assert.equal(r.get("gh", "app"), "from-env-2", "an empty store row does not hide the environment");
  assert.equal(r.get("empty"), undefined);
  assert.equal(r.get("absent"), undefined);
  assert.equal(r.get("gh", "nope"), undefined);
  assert.equal(new SecretResolver({ env }).get("gh"), "from-env-1", "no store configured");
});

test("slots: primary is the bare variable, others are suffixed; slotsFor binds the name", () => {
  const env = {
    CLAWPATROL_SECRET_ORB_TEST: "primary-value",
    CLAWPATROL_SECRET_ORB_TEST_CERT: "cert-value",
    CLAWPATROL_SECRET_ORB_TEST_KEY: "key-value",
  };
  const slots = new SecretResolver({ env }).slotsFor("orb-test");
  assert.equal(slots.get(), "primary-value");
  assert.equal(slots.get("secret"), "primary-value");
  assert.equal(slots.get("cert"), "cert-value");
  assert.equal(slots.get("key"), "key-value");
  assert.equal(slots.get("ca"), undefined);
});

test("@file values: read, one trailing newline trimmed, unreadable is an error naming the variable", () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-secrets-"));
  try {
    const cases: Array<[string, string, string]> = [
      ["a", "tok-123\n", "tok-123"],
      ["b", "tok-123\r\n", "tok-123"],
      ["c", "tok-123\n\n", "tok-123\n"],
      ["d", "tok-123", "tok-123"],
      ["e", "-----BEGIN X-----\nAAAA\n-----END X-----\n", "-----BEGIN X-----\nAAAA\n-----END X-----"],
    ];
    const env: Record<string, string> = {};
    for (const [name, content] of cases) {
      writeFileSync(join(dir, name), content);
      env[secretEnvVar(name)] = "@" + join(dir, name);
    }
    env["CLAWPATROL_SECRET_MISSING_FILE"] = "@" + join(dir, "nope");
    env["CLAWPATROL_SECRET_LITERAL"] = "@@starts-with-at";
    writeFileSync(join(dir, "empty"), "\n");
    env["CLAWPATROL_SECRET_EMPTY_FILE"] = "@" + join(dir, "empty");
    const r = new SecretResolver({ env });
    for (const [name, , want] of cases) assert.equal(r.get(name), want, name);
    assert.equal(r.get("literal"), "@starts-with-at");
    assert.equal(r.get("empty-file"), undefined);
    assert.throws(
      () => r.get("missing-file"),
      (e: unknown) => e instanceof SecretFileError && e.variable === "CLAWPATROL_SECRET_MISSING_FILE" && /ENOENT/.test(e.message),
    );
    if (process.getuid?.() !== 0) {
      writeFileSync(join(dir, "locked"), "secret-bytes");
      chmodSync(join(dir, "locked"), 0);
      env["CLAWPATROL_SECRET_LOCKED"] = "@" + join(dir, "locked");
      assert.throws(() => r.get("locked"), (e: unknown) => e instanceof SecretFileError && !e.message.includes("secret-bytes"));
    }
    // A directory is unreadable as a file, even for root.
    env["CLAWPATROL_SECRET_DIR"] = "@" + dir;
    assert.throws(() => r.get("dir"), SecretFileError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("files are re-read on every call, so rotation applies without a reload", () => {
  let content = "first-value";
  const r = new SecretResolver({ env: { CLAWPATROL_SECRET_ROT: "@/virtual" }, readFile: () => content });
  assert.equal(r.get("rot"), "first-value");
  content = "second-value\n";
  assert.equal(r.get("rot"), "second-value");
});

test("values too short to redact are refused with a warning that never quotes them", () => {
  const warnings: string[] = [];
  const r = new SecretResolver({ env: { CLAWPATROL_SECRET_SHORT: "abc", CLAWPATROL_SECRET_OK: "abcd" }, store: store({ "s.secret": "xy" }), warn: (m) => warnings.push(m) });
  assert.equal(r.get("short"), undefined);
  assert.equal(r.get("ok"), "abcd");
  assert.equal(r.get("s"), undefined);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /CLAWPATROL_SECRET_SHORT: value shorter than 4 bytes/);
  assert.match(warnings[1]!, /secret store s\.secret/);
  for (const w of warnings) assert.ok(!w.includes("abc") && !w.includes("xy"), w);
  // Multi-byte characters count as bytes: two 2-byte characters are long enough.
  assert.equal(new SecretResolver({ env: { CLAWPATROL_SECRET_U: "éé" } }).get("u"), "éé");
});

test("defaults to process.env", () => {
  process.env["CLAWPATROL_SECRET_PROCESS_ENV_TEST"] = "from-process";
  try {
    assert.equal(new SecretResolver().get("process-env-test"), "from-process");
  } finally {
    delete process.env["CLAWPATROL_SECRET_PROCESS_ENV_TEST"];
  }
});
