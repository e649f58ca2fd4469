import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "./main.js";
import { openStore } from "../store/db.js";
import { initSqlAnalyzer } from "../policy/sql/analyze.js";
import { BASE_HCL, basePolicy, httpRow, sqlRow, sshRow } from "../policy/replay-testkit.js";

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

let dir: string;
let stateDir: string;
let same: string;
let stricter: string;

before(async () => {
  await initSqlAnalyzer();
  dir = mkdtempSync(join(tmpdir(), "clawpatrol-backtest-"));
  stateDir = join(dir, "state");
  const hcl = (text: string) => text.replace('state_dir  = "/tmp/clawpatrol-test"', `state_dir  = ${JSON.stringify(stateDir)}`);
  same = join(dir, "same.hcl");
  stricter = join(dir, "stricter.hcl");
  writeFileSync(same, hcl(BASE_HCL));
  writeFileSync(stricter, hcl(BASE_HCL.replace(`condition = "ssh.verb == 'exec'"`, `condition = "ssh.verb == 'exec' && !ssh.command.startsWith('rm ')"`)
    .replace(`condition = "sql.verb in ['drop', 'truncate']"`, `condition = "sql.verb in ['drop', 'truncate', 'delete']"`)));
  const policy = basePolicy();
  const store = openStore(stateDir);
  store.actions.insertMany([
    { ...httpRow(policy, "GET", "/user"), time: Date.UTC(2025, 0, 2, 3, 4, 5, 6) },
    { ...sqlRow(policy, "DELETE FROM sessions"), time: Date.UTC(2025, 0, 2, 3, 4, 6) },
    { ...sshRow(policy, { verb: "exec", command: "rm -rf /tmp/x\n\u001b[31mred" }), time: Date.UTC(2025, 0, 2, 3, 4, 7) },
    { time: Date.UTC(2025, 0, 2, 3, 4, 8), verdict: "deny", family: "http", endpoint: "https.github", reason: "Host header does not match" },
  ]);
  store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("clawpatrol test --backtest", () => {
  it("exits 0 and says so when nothing changes", async () => {
    const r = await cli("test", "--backtest", same, "--state-dir", stateDir);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "3 action(s) replayed, 0 would change, 1 skipped (not replayable)\n");
  });

  it("prints every change and exits 1 (state dir from the candidate's gateway block)", async () => {
    const r = await cli("test", "--backtest", stricter);
    assert.equal(r.code, 1, r.err);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines.length, 3, r.out);
    assert.match(lines[0]!, /^2025-01-0[12] \d\d:04:06\.000  postgres\.pg  DELETE FROM sessions  allow → deny \(pg-no-ddl\)$/);
    assert.match(lines[1]!, /^2025-01-0[12] \d\d:04:07\.000  ssh\.build  rm -rf \/tmp\/x\\u000a\\u001b\[31mred  allow → allow \(no rule; was ssh-exec\)$/);
    assert.equal(lines[2], "3 action(s) replayed, 2 would change, 1 skipped (not replayable)");
  });

  it("--json and --limit", async () => {
    const r = await cli("test", "--backtest", stricter, "--state-dir", stateDir, "--json", "--limit", "2");
    assert.equal(r.code, 1, r.err);
    const res = JSON.parse(r.out) as { replayed: number; skipped: number; changed: { summary: string; before: unknown; after: unknown }[] };
    assert.deepEqual([res.replayed, res.skipped], [1, 1]);
    assert.deepEqual(res.changed.map((c) => [c.before, c.after]), [[{ verdict: "allow", rule: "ssh-exec" }, { verdict: "allow", rule: "" }]]);
  });

  it("usage and config errors exit 2", async () => {
    assert.equal((await cli("test", "--backtest", same, "extra.json")).code, 2);
    assert.equal((await cli("test", "--backtest", same, "--limit", "0")).code, 2);
    assert.equal((await cli("test", "--backtest")).code, 2);
    assert.equal((await cli("test", same, "fx", "--limit", "5")).code, 2);
    const missing = await cli("test", "--backtest", same, "--state-dir", join(dir, "nowhere"));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no gateway database/);
    const bad = join(dir, "bad.hcl");
    writeFileSync(bad, BASE_HCL.replace(`verdict   = "allow"`, `verdict   = "alow"`));
    const b = await cli("test", "--backtest", bad, "--state-dir", stateDir);
    assert.equal(b.code, 2);
    assert.match(b.err, /candidate config has errors/);
  });
});
