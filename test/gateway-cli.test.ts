/**
 * `clawpatrol gateway` as a real process: it starts on a config, reloads on
 * SIGHUP and on a file edit (rejecting a broken one while the old policy keeps
 * serving), and drains and exits 0 on SIGTERM.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/testing/net.js";


const config = (infoPort: number, proxyPort: number, state: string, extraRule: string) => `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(state)}
  dashboard_listen = "127.0.0.1:${infoPort}"
  proxy {
    listen  = "127.0.0.1:${proxyPort}"
    profile = "default"
  }
}
endpoint "https" "api" { hosts = ["api.example.test"] }
credential "bearer_token" "t" { endpoint = https.api }
rule "reads" {
  endpoint  = https.api
  condition = "http.method == 'GET'"
  verdict   = "allow"
}
${extraRule}
profile "default" { credentials = [bearer_token.t] }
`;

describe("clawpatrol gateway (process)", () => {
  let dir: string;
  let cfg: string;
  let child: ChildProcess;
  let out = "";
  let infoPort: number;
  let proxyPort: number;

  const waitFor = async (re: RegExp, ms = 8000): Promise<void> => {
    const start = Date.now();
    while (!re.test(out)) {
      if (Date.now() - start > ms) throw new Error(`timed out waiting for ${re}; output:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "clawpatrol-cli-gw-"));
    cfg = join(dir, "gateway.hcl");
    infoPort = await freePort();
    proxyPort = await freePort();
    writeFileSync(cfg, config(infoPort, proxyPort, join(dir, "state"), ""));
    child = spawn(process.execPath, [join(process.cwd(), "bin", "clawpatrol"), "gateway", cfg], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(/"msg":"gateway running"/);
  });

  after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the CA on the info listener", async () => {
    const r = await fetch(`http://127.0.0.1:${infoPort}/ca.crt`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /^-----BEGIN CERTIFICATE-----/);
  });

  it("reloads on SIGHUP (file untouched, so only the signal can cause it)", async () => {
    assert.doesNotMatch(out, /config reloaded/);
    child.kill("SIGHUP");
    await waitFor(/"msg":"config reloaded"/);
  });

  it("reloads when the file changes", async () => {
    const before = (out.match(/config reloaded/g) ?? []).length;
    writeFileSync(cfg, config(infoPort, proxyPort, join(dir, "state"), `rule "no-deletes" {\n  endpoint = https.api\n  condition = "http.method == 'DELETE'"\n  verdict = "deny"\n}\n`));
    await waitFor(new RegExp(`(config reloaded[\\s\\S]*){${before + 1}}`));
  });

  it("rejects a broken edit and keeps serving", async () => {
    writeFileSync(cfg, `${config(infoPort, proxyPort, join(dir, "state"), "")}\nrule "oops" {\n`);
    await waitFor(/config reload rejected/);
    const r = await fetch(`http://127.0.0.1:${infoPort}/info`);
    assert.equal(r.status, 200);
    assert.equal(child.exitCode, null, "the gateway must keep running");
  });

  it("drains and exits 0 on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(out, /stopping; draining in-flight requests/);
  });
});
