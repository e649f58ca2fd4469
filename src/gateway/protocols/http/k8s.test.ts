import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { Harness, KUBE_SECRET, scriptFakeApiServer, until } from "./testkit.js";

const h = new Harness();
let port = 0;

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // An IP server: the client sends no SNI, the leaf is minted for the IP.
    const req = request({ host: "127.0.0.1", port, ca: h.gatewayCa.certPem, path, agent: false, headers: { authorization: "Bearer kubeconfig-placeholder" } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends an upgrade request on a raw TLS connection; resolves with everything read until close or `until`. */
function upgrade(path: string, stopAt?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port, ca: h.gatewayCa.certPem });
    let got = "";
    sock.on("error", reject);
    sock.on("secureConnect", () =>
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
          `X-Stream-Protocol-Version: v4.channel.k8s.io\r\nAuthorization: Bearer x\r\n\r\n`,
      ),
    );
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (stopAt !== undefined && got.includes(stopAt)) {
        sock.destroy();
        resolve(got);
      }
      if (got.includes("\r\n\r\n") && got.startsWith("HTTP/1.1 101")) sock.write("ping");
    });
    sock.on("close", () => resolve(got));
  });
}

before(async () => {
  await h.start();
  port = await h.listen(() => ({ endpoint: "k8s", destination: { host: "127.0.0.1", port: h.k8s.port } }));
  // The shared fake API server, with an exec that echoes (and reports whether it saw the real token).
  scriptFakeApiServer(h.k8s, KUBE_SECRET);
  h.k8s.upgrades.set("/api/v1/namespaces/default/pods/web-0/exec", (req, socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Seen-Auth: ${req.headers.authorization === `Bearer ${KUBE_SECRET}`}\r\n\r\n`);
    socket.on("data", (d: Buffer) => socket.write(`echo:${d.toString()}`));
    socket.on("error", () => {});
  });
});

after(async () => {
  await h.stop();
});

describe("Kubernetes interception (server by IP, no SNI)", () => {
  it("get pods is allowed and carries the real token; get secrets is denied with the reason", async () => {
    const pods = await get("/api/v1/namespaces/default/pods");
    assert.equal(pods.status, 200);
    assert.equal(JSON.parse(pods.body).kind, "PodList");
    const seen = h.k8s.seen.find((s) => s.url === "/api/v1/namespaces/default/pods")!;
    assert.equal(seen.headers.authorization, `Bearer ${KUBE_SECRET}`);
    const secrets = await get("/api/v1/namespaces/default/secrets");
    assert.deepEqual(secrets, { status: 403, body: "secrets are off limits" });
    assert.equal(h.k8s.seen.filter((s) => s.url.includes("secrets")).length, 0);
    await until(() => h.audits.length >= 2);
    const rec = h.audits.find((a) => a.summary.includes("/secrets"))!;
    assert.equal(rec.family, "k8s");
    assert.equal((rec.facets["k8s"] as { resource: string }).resource, "secrets");
  });

  it("exec with stdin=true is denied on the upgrade; exec without stdin is spliced", async () => {
    const denied = await upgrade("/api/v1/namespaces/default/pods/web-0/exec?command=sh&stdin=true&stdout=true");
    assert.match(denied, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(denied, /Connection: close/);
    assert.ok(denied.endsWith("\r\n\r\ninteractive exec is not allowed"));
    assert.equal(h.k8s.seen.filter((s) => s.url.includes("stdin=true")).length, 0);

    const allowed = await upgrade("/api/v1/namespaces/default/pods/web-0/exec?command=ls&stdout=true", "echo:ping");
    assert.match(allowed, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(allowed, /X-Seen-Auth: true/);
    assert.ok(allowed.endsWith("echo:ping"));
    await until(() => h.audits.some((a) => a.status === 101));
    const rec = h.audits.find((a) => a.status === 101)!;
    assert.equal((rec.facets["k8s"] as { resource: string }).resource, "pods/exec");
  });

  it("real kubectl: get pods works, get secrets shows the reason, exec -i is refused", async () => {
    if (spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status !== 0) {
      if (process.env.CI) assert.fail("kubectl is required in CI");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "cp-k8s-"));
    const kubeconfig = join(dir, "config");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "gw", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": Buffer.from(h.gatewayCa.certPem).toString("base64") } }],
        users: [{ name: "agent", user: { token: "kube-placeholder" } }],
        contexts: [{ name: "gw", context: { cluster: "gw", user: "agent", namespace: "default" } }],
        "current-context": "gw",
      }),
    );
    const kubectl = (...args: string[]) =>
      new Promise<{ status: number | null; out: string }>((resolve) => {
        const c = spawn("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), "--request-timeout", "10s", ...args]);
        let out = "";
        c.stdout.on("data", (d: Buffer) => (out += d.toString()));
        c.stderr.on("data", (d: Buffer) => (out += d.toString()));
        c.stdin.end();
        c.on("close", (status) => resolve({ status, out }));
      });
    const pods = await kubectl("get", "pods", "-o", "name");
    assert.equal(pods.status, 0, pods.out);
    assert.match(pods.out, /pod\/web-0/);
    const secrets = await kubectl("get", "secrets");
    assert.notEqual(secrets.status, 0);
    assert.match(secrets.out, /secrets are off limits/);
    const exec = await kubectl("exec", "-i", "web-0", "--", "sh");
    assert.notEqual(exec.status, 0);
    assert.match(exec.out, /interactive exec is not allowed|Forbidden/);
    console.log(`# kubectl get secrets: ${secrets.out.trim()}\n# kubectl exec -i: ${exec.out.trim()}`);
    assert.ok(!pods.out.includes(KUBE_SECRET) && !secrets.out.includes(KUBE_SECRET) && !exec.out.includes(KUBE_SECRET));
  });

  it("audit and logs hold no secret", () => {
    const audit = JSON.stringify(h.audits, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v));
    assert.ok(!audit.includes(KUBE_SECRET));
    assert.ok(!h.log.lines.join("\n").includes(KUBE_SECRET));
  });
});
