/**
 * `mtls_credential` end to end: through the assembled gateway, an upstream
 * that requires a client certificate gets the credential's certificate (the
 * agent holds none), and without the secret the upstream refuses the
 * connection and the agent gets the gateway's generic 502.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { loadOrCreateCa } from "../src/gateway/tls/ca.js";
import { MemoryStore, mintTestCert } from "../src/gateway/tls/test-helpers.js";
import { freePort } from "../src/testing/net.js";

function curl(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile("curl", ["-sS", "--max-time", "10", "-w", "\n%{http_code}", ...args], { encoding: "utf8" }, (_e, stdout) => resolve(stdout));
  });
}

describe("mtls_credential through the gateway", () => {
  let dir: string;
  let gw: RunningGateway;
  let upstream: Server;
  let proxyPort: number;
  let upstreamPort: number;
  let gatewayCa: string;
  const seenClients: string[] = [];
  const env = ["CLAWPATROL_SECRET_UPSTREAM_MTLS_CERT", "CLAWPATROL_SECRET_UPSTREAM_MTLS_KEY"];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "clawpatrol-mtls-"));
    const serverCa = await loadOrCreateCa(new MemoryStore());
    const clientCa = await loadOrCreateCa(new MemoryStore());
    const serverCert = await mintTestCert(serverCa, "mtls.e2e.test", "server");
    const clientCert = await mintTestCert(clientCa, "agent-fleet", "client");
    upstream = createServer(
      { cert: serverCert.certPem, key: serverCert.keyPem, ca: clientCa.certPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seenClients.push(String(peer.subject?.CN ?? ""));
        res.writeHead(200, { "content-type": "text/plain" }).end(`hello ${peer.subject?.CN}\n`);
      },
    );
    upstream.listen(0, "127.0.0.1");
    await new Promise((r) => upstream.once("listening", r));
    upstreamPort = (upstream.address() as { port: number }).port;
    proxyPort = await freePort();
    const infoPort = await freePort();
    const cfg = join(dir, "gateway.hcl");
    writeFileSync(join(dir, "upstream-ca.pem"), serverCa.certPem);
    writeFileSync(
      cfg,
      `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(join(dir, "state"))}
  dashboard_listen = "127.0.0.1:${infoPort}"
  resolve          = { "mtls.e2e.test" = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:${proxyPort}"
    profile = "default"
  }
}
endpoint "https" "internal" {
  hosts   = ["mtls.e2e.test:${upstreamPort}"]
  ca_cert = "<<file:upstream-ca.pem>>"
}
credential "mtls_credential" "upstream_mtls" { endpoint = https.internal }
profile "default" { credentials = [mtls_credential.upstream_mtls] }
`,
    );
    process.env[env[0]!] = clientCert.certPem;
    process.env[env[1]!] = clientCert.keyPem;
    gw = await startGateway({ configPath: cfg, watch: false, log: createLogger({ level: "error", write: () => {} }) });
    gatewayCa = join(dir, "gateway-ca.pem");
    writeFileSync(gatewayCa, await (await fetch(`http://127.0.0.1:${infoPort}/ca.crt`)).text());
  });

  after(async () => {
    for (const v of env) delete process.env[v];
    await gw?.close(1000);
    upstream?.close();
    upstream?.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = () => curl(["--proxy", `socks5h://127.0.0.1:${proxyPort}`, "--cacert", gatewayCa, `https://mtls.e2e.test:${upstreamPort}/`]);

  it("presents the credential's client certificate upstream", async () => {
    const out = await get();
    assert.match(out, /hello agent-fleet\n\n200$/);
    assert.deepEqual(seenClients, ["agent-fleet"]);
  });

  it("without the secret, the upstream refuses and the agent gets a generic 502", async () => {
    for (const v of env) delete process.env[v];
    const out = await get();
    assert.match(out, /\n502$/);
    assert.doesNotMatch(out, /BEGIN|PRIVATE/);
    assert.equal(seenClients.length, 1, "no request reached the application without a client certificate");
  });
});
