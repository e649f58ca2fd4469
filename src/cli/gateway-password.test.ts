import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
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

  /**
   * Through a real terminal: `script` runs the CLI on a pseudo-terminal and
   * copies everything the terminal shows to its stdout. Before this prompt
   * switched the terminal to raw mode, the terminal itself echoed the typed
   * password there.
   */
  it("at a real terminal, the password is asked twice and never shown", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clawpatrol-cli-pty-"));
    try {
      const state = join(dir, "state");
      const cli = fileURLToPath(new URL("../../../bin/clawpatrol", import.meta.url));
      const secret = "typed-at-the-terminal-42";
      const ran = await underPty(`${cli} gateway --set-dashboard-password --state-dir ${state}`, [
        ["New dashboard password:", `${secret}\r`],
        ["Repeat it:", `${secret}\r`],
      ]);
      assert.equal(ran.code, 0, ran.screen);
      assert.ok(!ran.screen.includes(secret), `the terminal showed the password:\n${ran.screen}`);
      assert.match(ran.screen, /password set for "admin"/);
      const store = openStore(state);
      assert.equal(await verifyPassword(secret, store.users.get("admin")!.passwordHash), true);
      store.close();

      const typo = await underPty(`${cli} gateway --set-dashboard-password --state-dir ${state}`, [
        ["New dashboard password:", "first-version-of-it\r"],
        ["Repeat it:", "second-version-of-it\r"],
      ]);
      assert.equal(typo.code, 1);
      assert.match(typo.screen, /differ; nothing changed/);
      const after = openStore(state);
      assert.equal(await verifyPassword(secret, after.users.get("admin")!.passwordHash), true, "a mismatch changes nothing");
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs `command` on a pseudo-terminal (util-linux `script`), typing each answer once its prompt is on screen. */
function underPty(command: string, dialogue: [prompt: string, answer: string][]): Promise<{ code: number; screen: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let screen = "";
    let step = 0;
    /** Where the screen is read from: past the prompt answered last, so each prompt must appear anew. */
    let from = 0;
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      screen += d.toString();
      for (let at; step < dialogue.length && (at = screen.indexOf(dialogue[step]![0], from)) >= 0; step++) {
        from = at + dialogue[step]![0].length;
        child.stdin.write(dialogue[step]![1]);
      }
    });
    child.stderr.on("data", (d: Buffer) => (screen += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, screen });
    });
  });
}
