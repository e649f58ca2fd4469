import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { main } from "./main.js";
import { GATEWAY } from "../config/testing.js";

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

const POLICY = `schema_version = 1
${GATEWAY}
endpoint "https" "github" { hosts = ["api.github.com"] }
endpoint "postgres" "pg" { host = "db.internal:5432" }
credential "bearer_token" "gh" { endpoint = https.github }
credential "postgres_credential" "pg" { endpoint = postgres.pg }
rule "reads" {
  endpoint  = https.github
  condition = "http.method in ['GET', 'HEAD']"
  verdict   = "allow"
}
rule "writes" {
  endpoint  = https.github
  condition = "http.method in ['POST', 'DELETE']"
  verdict   = "deny"
  reason    = "writes go through PR review"
}
rule "pg-no-ddl" {
  endpoint  = postgres.pg
  condition = "sql.verb in ['drop', 'truncate']"
  verdict   = "deny"
}
profile "default" { credentials = [bearer_token.gh, postgres_credential.pg] }
`;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "clawpatrol-cli-"));
  writeFileSync(join(dir, "gateway.hcl"), POLICY);
  mkdirSync(join(dir, "fx"));
  const fixture = (name: string, action: unknown, match: unknown) =>
    writeFileSync(join(dir, "fx", name), JSON.stringify({ action, match }, null, 2));
  fixture("a-get.json", { host: "api.github.com", http: { method: "GET", path: "/user" } }, { verdict: "allow", rule: "reads", endpoint: "https.github" });
  fixture("b-drop.json", { host: "db.internal:5432", sql: { statement: "select 1; DROP TABLE users" } }, { verdict: "deny", rule: "pg-no-ddl", endpoint: "pg" });
  fixture("c-put.json", { host: "api.github.com", http: { method: "PUT", path: "/x" } }, { verdict: "deny", rule: "writes" });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("clawpatrol validate", () => {
  it("prints ok with counts and exits 0", async () => {
    const r = await cli("validate", join(dir, "gateway.hcl"));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `ok: ${join(dir, "gateway.hcl")} — 2 endpoints across 1 profile(s)\n`);
  });
  it("exits 1 with file:line:col diagnostics on errors", async () => {
    const bad = join(dir, "bad.hcl");
    writeFileSync(bad, POLICY.replace(`verdict   = "allow"`, `verdict   = "alow"`));
    const r = await cli("validate", bad);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^error: ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: Invalid value — "verdict" must be one of`, "m"));
  });
  it("exits 2 on usage errors", async () => {
    assert.equal((await cli("validate")).code, 2);
    assert.equal((await cli("validate", "a", "b")).code, 2);
    assert.equal((await cli("validate", "--bogus", "a")).code, 2);
    assert.equal((await cli("nonsense")).code, 2);
    assert.equal((await cli()).code, 2);
  });
  it("--help exits 0", async () => {
    const r = await cli("validate", "--help");
    assert.equal(r.code, 0);
    assert.match(r.out, /usage: clawpatrol validate/);
  });
});

describe("clawpatrol test", () => {
  it("reports ok / FAIL with want and got lines and the summary; exits 1 on a mismatch", async () => {
    const r = await cli("test", join(dir, "gateway.hcl"), join(dir, "fx"));
    assert.equal(r.code, 1, r.out + r.err);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines[0], `ok   ${join(dir, "fx", "a-get.json")}`);
    assert.equal(lines[1], `ok   ${join(dir, "fx", "b-drop.json")}`);
    assert.equal(lines[2], `FAIL ${join(dir, "fx", "c-put.json")}`);
    // Same column layout as the reference's output.
    assert.equal(lines[3], '  want verdict="deny"       rule="writes"                       endpoint=""');
    assert.equal(lines[4], '  got  verdict="allow"      rule=""                             endpoint="https.github"');
    assert.equal(lines.at(-1), "3 action(s) checked, 1 mismatch(es)");
  });
  it("a single fixture file, all matching, exits 0", async () => {
    const r = await cli("test", join(dir, "gateway.hcl"), join(dir, "fx", "b-drop.json"));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /1 action\(s\) checked, 0 mismatch\(es\)\n$/);
  });
  it("--json: one object per fixture", async () => {
    const r = await cli("test", "--json", join(dir, "gateway.hcl"), join(dir, "fx"));
    assert.equal(r.code, 1);
    const rows = JSON.parse(r.out) as Array<Record<string, unknown>>;
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[1], {
      file: join(dir, "fx", "b-drop.json"),
      ok: true,
      want: { verdict: "deny", rule: "pg-no-ddl", endpoint: "pg" },
      got: { verdict: "deny", rule: "pg-no-ddl", endpoint: "postgres.pg", reason: "" },
    });
    assert.equal(rows[2]!.ok, false);
  });
  it("fixture schema errors name the path and count as failures", async () => {
    const f = join(dir, "typo.json");
    writeFileSync(f, JSON.stringify({ action: { host: "api.github.com", http: { methd: "GET" } }, match: { verdict: "allow" } }));
    const r = await cli("test", join(dir, "gateway.hcl"), f);
    assert.equal(r.code, 1);
    assert.match(r.out, /^FAIL .*typo\.json: action\.http\.methd: unknown key/m);
  });
  it("config errors exit 2; usage errors exit 2", async () => {
    const bad = join(dir, "bad2.hcl");
    writeFileSync(bad, "rule {");
    assert.equal((await cli("test", bad, join(dir, "fx"))).code, 2);
    assert.equal((await cli("test", join(dir, "gateway.hcl"))).code, 2);
    assert.equal((await cli("test", "--now", "yesterday", join(dir, "gateway.hcl"), join(dir, "fx"))).code, 2);
    assert.equal((await cli("test", join(dir, "gateway.hcl"), join(dir, "missing"))).code, 2);
  });
});

describe("bin/clawpatrol", () => {
  it("runs the built CLI as a process with the right exit codes", () => {
    const bin = join(process.cwd(), "bin", "clawpatrol");
    const ok = spawnSync(process.execPath, [bin, "validate", join(dir, "gateway.hcl")], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: /);
    const usage = spawnSync(process.execPath, [bin, "validate"], { encoding: "utf8" });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: clawpatrol validate/);
  });
});
