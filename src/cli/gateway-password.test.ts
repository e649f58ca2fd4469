import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { openStore } from "../store/db.js";
import { verifyPassword } from "../web/auth/password.js";
import { run } from "./gateway.js";

function capture() {
  let out = "";
  let err = "";
  return { io: { stdout: (t: string) => void (out += t), stderr: (t: string) => void (err += t) }, out: () => out, err: () => err };
}

describe("clawpatrol gateway --set-dashboard-password / --reset-dashboard-password", () => {
  it("sets the root admin from stdin, ends sessions, resets; never starts the gateway", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clawpatrol-cli-pw-"));
    try {
      const state = join(dir, "state");
      const cfg = join(dir, "gateway.hcl");
      // The listen port is taken by nothing: if the gateway started, the test would hang, not pass.
      writeFileSync(cfg, `schema_version = 1\ngateway {\n  state_dir = ${JSON.stringify(state)}\n}\n`);
      const store0 = openStore(state);
      store0.users.create("admin", "viewer", "x");
      store0.users.createSession("h", "admin", "c", Date.now() + 60_000);
      store0.close();

      const c = capture();
      assert.equal(await run(["--set-dashboard-password", cfg], c.io, Readable.from(["a brand new password\nignored\n"])), 0, c.err());
      assert.match(c.out(), /password set for "admin"/);
      let store = openStore(state);
      const admin = store.users.get("admin")!;
      assert.equal(admin.role, "admin");
      assert.equal(await verifyPassword("a brand new password", admin.passwordHash), true);
      assert.equal(store.users.session("h"), undefined, "sessions ended");
      store.close();

      const short = capture();
      assert.equal(await run(["--set-dashboard-password", "--state-dir", state], short.io, Readable.from(["short\n"])), 1);
      assert.match(short.err(), /at least 10/);

      const r = capture();
      assert.equal(await run(["--reset-dashboard-password", cfg], r.io, Readable.from([])), 0);
      store = openStore(state);
      assert.equal(store.users.count(), 0);
      store.close();

      const help = capture();
      assert.equal(await run(["--help"], help.io), 0);
      assert.match(help.out(), /--set-dashboard-password/);
      assert.match(help.out(), /--reset-dashboard-password/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
