/**
 * Helpers for the gateway acceptance suite (test/gateway-acceptance.test.ts):
 * free ports, real-client runners (curl, kubectl) that never block the event
 * loop (the gateway under test lives in this process), a raw HTTP CONNECT
 * tunnel for hand-written TLS traffic, the fake Kubernetes API server, and
 * the gateway config the suite runs on.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { freePort } from "../src/testing/net.js";
import { spawnCapture } from "../src/testing/spawn.js";
export { freePort };
export { POD_LIST, scriptFakeApiServer } from "../src/gateway/protocols/http/testkit.js";


/**
 * Whether a real client can run. Missing is a skip locally, but a failure in
 * CI (`process.env.CI` set), where the suite's dependencies must exist.
 */
export function clientMissing(cmd: string, args: string[]): string | false {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status === 0) return false;
  if (process.env.CI) throw new Error(`${cmd} is required in CI but cannot run`);
  return `${cmd} not available`;
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns a real client, optionally noting when stdout chunks arrive. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; onStdout?: (chunk: string, at: number) => void; timeoutMs?: number } = {},
): Promise<Ran> {
  return spawnCapture(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 20_000 });
}

/**
 * Opens an HTTP CONNECT tunnel through the gateway's proxy transport to
 * `host:port`, then TLS over it trusting only `caPem` (the gateway's CA).
 */
export async function tunnelTls(proxyPort: number, host: string, port: number, caPem: string): Promise<TLSSocket> {
  const raw: Socket = netConnect({ host: "127.0.0.1", port: proxyPort });
  raw.on("error", () => {});
  await once(raw, "connect");
  raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  let head = Buffer.alloc(0);
  while (!head.includes("\r\n\r\n")) {
    const [chunk] = (await once(raw, "data")) as [Buffer];
    head = Buffer.concat([head, chunk]);
  }
  const end = head.indexOf("\r\n\r\n") + 4;
  assert.match(head.subarray(0, end).toString(), /^HTTP\/1\.[01] 200 /, "CONNECT refused");
  assert.equal(head.length, end, "no bytes may follow the CONNECT reply before the client speaks");
  const tls = tlsConnect({ socket: raw, servername: host, ca: caPem, ALPNProtocols: ["http/1.1"] });
  tls.on("error", () => {});
  await once(tls, "secureConnect");
  return tls;
}

/** Reads from `sock` into a growing buffer until `pred` holds; rejects on close. */
export function readUntil(sock: TLSSocket, state: { buf: Buffer }, pred: (b: Buffer) => boolean, sink?: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      sock.off("data", onData);
      sock.off("close", onClose);
    };
    const onData = (d: Buffer) => {
      state.buf = Buffer.concat([state.buf, d]);
      sink?.push(d);
      if (pred(state.buf)) {
        done();
        resolve();
      }
    };
    const onClose = () => {
      done();
      reject(new Error(`closed; got ${JSON.stringify(state.buf.toString("latin1"))}`));
    };
    sock.on("data", onData);
    sock.on("close", onClose);
    if (pred(state.buf)) {
      done();
      resolve();
    }
  });
}

const indentPem = (pem: string) =>
  pem
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");

export interface AcceptanceConfig {
  stateDir: string;
  proxyPort: number;
  infoPort: number;
  apiHost: string;
  apiPort: number;
  apiCaPem: string;
  apiPlaceholder: string;
  k8sHost: string;
  k8sPort: number;
  k8sCaPem: string;
}

/**
 * The suite's gateway config: one `proxy` transport, a `resolve` map for
 * both fake hosts, an `https` endpoint and a `kubernetes` endpoint on
 * non-443 ports (claimed by `hosts`), each trusting its upstream's own CA.
 */
export function acceptanceConfig(o: AcceptanceConfig): string {
  return `schema_version = 1
gateway {
  state_dir        = ${JSON.stringify(o.stateDir)}
  dashboard_listen = "127.0.0.1:${o.infoPort}"
  resolve          = { ${JSON.stringify(o.apiHost)} = "127.0.0.1", ${JSON.stringify(o.k8sHost)} = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:${o.proxyPort}"
    profile = "default"
    device  = "acceptance-agent"
  }
}

# human_on_timeout is left at its default (deny).

endpoint "https" "api" {
  hosts   = ["${o.apiHost}:${o.apiPort}"]
  ca_cert = <<-EOT
${indentPem(o.apiCaPem)}
  EOT
}

endpoint "kubernetes" "k8s" {
  hosts   = ["${o.k8sHost}:${o.k8sPort}"]
  ca_cert = <<-EOT
${indentPem(o.k8sCaPem)}
  EOT
}

credential "bearer_token" "api_token" {
  endpoint    = https.api
  placeholder = ${JSON.stringify(o.apiPlaceholder)}
}

credential "bearer_token" "kube_token" { endpoint = kubernetes.k8s }

approver "human_approver" "quick" {
  channel = "#acceptance"
  timeout = 1
}

rule "reads" {
  endpoint  = https.api
  condition = "http.method == 'GET'"
  verdict   = "allow"
}

rule "writes" {
  endpoint  = https.api
  condition = "http.method == 'POST' && http.path == '/things'"
  verdict   = "deny"
  reason    = "writes to /things are blocked in acceptance"
}

rule "gated" {
  endpoint  = https.api
  condition = "http.method == 'POST' && http.path.startsWith('/gated/')"
  approve   = [builtin.dashboard]
}

rule "gated-quick" {
  endpoint  = https.api
  condition = "http.method == 'POST' && http.path == '/slow-gate'"
  approve   = [human_approver.quick]
}

rule "no-secrets" {
  endpoint  = kubernetes.k8s
  priority  = 10
  condition = "k8s.resource == 'secrets'"
  verdict   = "deny"
  reason    = "secrets are off limits to agents"
}

rule "no-interactive-exec" {
  endpoint  = kubernetes.k8s
  priority  = 10
  condition = "k8s.resource == 'pods/exec' && 'stdin' in k8s.params && k8s.params.stdin == 'true'"
  verdict   = "deny"
  reason    = "interactive exec is not allowed"
}

rule "k8s-reads" {
  endpoint  = kubernetes.k8s
  condition = "k8s.verb in ['get', 'list', 'meta']"
  verdict   = "allow"
}

rule "k8s-default-deny" {
  endpoint  = kubernetes.k8s
  priority  = -100
  verdict   = "deny"
  reason    = "only reads are allowed on the cluster"
}

profile "default" { credentials = [bearer_token.api_token, bearer_token.kube_token] }
`;
}
