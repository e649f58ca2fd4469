/**
 * Test fixtures for the interception engine: real TLS and HTTP on
 * 127.0.0.1 with OS-chosen ports, fakes only where the engine has ports.
 *
 * - two CAs: the gateway's (leaves minted per SNI by the real LeafCache) and
 *   the upstreams' own, trusted only through the `upstreamTls` port;
 * - HTTPS upstreams that record every request and serve scripted routes
 *   (echo, SSE, WebSocket, uploads);
 * - a plain TCP listener standing in for the dispatcher: it peeks the
 *   ClientHello like the real one (bytes pushed back, stream paused), wraps
 *   the socket in a Flow and calls `intercept`;
 * - the real credential hooks (`bearer_token`), secret resolver, redactor
 *   and approvals engine behind the ports.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ConnectionOptions } from "node:tls";
import { policyOf, GATEWAY } from "../../../config/testing.js";
import type { CompiledEndpoint, CompiledPolicy } from "../../../policy/compiled.js";
import { ApprovalsEngine } from "../../approvals.js";
import type { Flow } from "../../flow.js";
import { SecretResolver } from "../../secrets.js";
import { loadOrCreateCa, type GatewayCa } from "../../tls/ca.js";
import { LeafCache } from "../../tls/leaf.js";
import { peekClientHello } from "../../tls/sni.js";
import { MemoryStore, mintTestCert } from "../../tls/test-helpers.js";
import { upstreamTlsOptions } from "../../tls/upstream.js";
import { credentialInjector, sharedRedaction } from "./adapters.js";
import type { AuditRecord } from "./audit.js";
import { HttpInterceptor, type HttpInterceptorOptions } from "./intercept.js";
import type { BodyLimits, HttpInterceptDeps, InterceptLog } from "./ports.js";

export const API_HOST = "api.example.test";
export const API_SECRET = "sk-live-REALSECRET-0123456789abcdef";
export const KUBE_SECRET = "kube-REAL-token-9f8e7d6c5b4a3210";
export const PLACEHOLDER = "PH_API_placeholder";

export const POLICY_HCL = `${GATEWAY}
endpoint "https" "api" { hosts = ["${API_HOST}"] }
endpoint "kubernetes" "k8s" { server = "https://127.0.0.1" }
credential "bearer_token" "api" { endpoint = https.api }
credential "bearer_token" "kube" { endpoint = kubernetes.k8s }
approver "human_approver" "ops" { channel = "#ops" }
approver "human_approver" "sleepy" {
  channel = "#nobody"
  timeout = 1
}
rule "no-forbidden-posts" {
  endpoint  = https.api
  condition = "http.method == 'POST' && http.path == '/forbidden'"
  verdict   = "deny"
  reason    = "posting to /forbidden is not allowed"
}
rule "inspect-body" {
  endpoint  = https.api
  condition = "http.path == '/inspect' && http.body.contains('DROP')"
  verdict   = "deny"
  reason    = "no drops"
}
rule "uploads" {
  endpoint  = https.api
  priority  = -1
  condition = "http.method == 'PUT'"
  verdict   = "allow"
}
rule "needs-approval" {
  endpoint  = https.api
  condition = "http.path.startsWith('/approve')"
  approve   = [human_approver.ops]
}
rule "slow-approval" {
  endpoint  = https.api
  condition = "http.path == '/slow'"
  approve   = [human_approver.sleepy]
}
rule "no-secrets" {
  endpoint  = kubernetes.k8s
  condition = "k8s.resource == 'secrets'"
  verdict   = "deny"
  reason    = "secrets are off limits"
}
rule "no-interactive-exec" {
  endpoint  = kubernetes.k8s
  condition = "k8s.resource == 'pods/exec' && 'stdin' in k8s.params && k8s.params.stdin == 'true'"
  verdict   = "deny"
  reason    = "interactive exec is not allowed"
}
profile "default" {
  credentials = [
    { placeholder = "${PLACEHOLDER}", credential = bearer_token.api },
    bearer_token.kube,
  ]
}
`;

/** One request as an upstream saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bodyLength: number;
  bodySha256: string;
}

export type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
export type UpgradeRoute = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** An HTTPS upstream with its own CA, scripted routes and a request log. */
export class Upstream {
  readonly seen: SeenRequest[] = [];
  readonly routes = new Map<string, Route>();
  readonly upgrades = new Map<string, UpgradeRoute>();
  port = 0;
  readonly server: HttpsServer;

  constructor(cert: { certPem: string; keyPem: string; caPem: string }) {
    this.server = createHttpsServer({ cert: `${cert.certPem}\n${cert.caPem}`, key: cert.keyPem, keepAliveTimeout: 30_000 }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const path = (req.url ?? "/").split("?")[0]!;
        this.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyLength: body.length, bodySha256: sha256(body) });
        const route = this.routes.get(path) ?? [...this.routes.entries()].find(([p]) => p.endsWith("*") && path.startsWith(p.slice(0, -1)))?.[1];
        if (route) route(req, res, body);
        else {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ ok: true, path }));
        }
      });
    });
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyLength: 0, bodySha256: "" });
      const path = (req.url ?? "/").split("?")[0]!;
      const route = this.upgrades.get(path) ?? [...this.upgrades.entries()].find(([p]) => p.endsWith("*") && path.startsWith(p.slice(0, -1)))?.[1];
      if (route) route(req, socket, head);
      else socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
  }

  /** Requests to one path (query ignored). */
  count(path: string): number {
    return this.seen.filter((s) => s.url.split("?")[0] === path).length;
  }

  async start(): Promise<void> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.port = (this.server.address() as AddressInfo).port;
  }
}

export function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** A logger that keeps every line (to prove no secret reaches the logs). */
export function memoryLog(): InterceptLog & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, msg, ...fields }));
    if (process.env.HTTP_INTERCEPT_DEBUG) console.error(level, msg, fields ?? "");
  };
  return { lines, debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
}

/** What a listener hands the interceptor for each accepted connection. */
export interface ListenerTarget {
  endpoint: string;
  destination: { host: string; port: number };
}

/** The harness: CAs, upstreams, the interceptor and its dispatcher stand-ins. */
export class Harness {
  gatewayCa!: GatewayCa;
  upstreamCa!: GatewayCa;
  api!: Upstream;
  k8s!: Upstream;
  policy: CompiledPolicy = policyOf(POLICY_HCL);
  readonly audits: AuditRecord[] = [];
  readonly log = memoryLog();
  readonly approvals = new ApprovalsEngine();
  readonly limits: BodyLimits = { bodyBuffer: 64 * 1024, bodyStorage: 4 * 1024 };
  interceptor!: HttpInterceptor<CompiledEndpoint>;
  readonly listeners: NetServer[] = [];
  /** Every byte any client received (appended by the test helpers). */
  readonly received: Buffer[] = [];
  readonly sockets = new Set<Socket>();

  async start(opts: HttpInterceptorOptions = {}): Promise<void> {
    this.gatewayCa = await loadOrCreateCa(new MemoryStore());
    this.upstreamCa = await loadOrCreateCa(new MemoryStore());
    const apiCert = await mintTestCert(this.upstreamCa, API_HOST, "server");
    const k8sCert = await mintTestCert(this.upstreamCa, "127.0.0.1", "server");
    this.api = new Upstream({ ...apiCert, caPem: this.upstreamCa.certPem });
    this.k8s = new Upstream({ ...k8sCert, caPem: this.upstreamCa.certPem });
    await Promise.all([this.api.start(), this.k8s.start()]);
    const leaves = new LeafCache(this.gatewayCa);
    const secrets = new SecretResolver({ env: { CLAWPATROL_SECRET_API: API_SECRET, CLAWPATROL_SECRET_KUBE: KUBE_SECRET } });
    const tlsMemo = new Map<string, ConnectionOptions>();
    const deps: HttpInterceptDeps<CompiledEndpoint> = {
      policy: () => this.policy,
      secureContext: (name) => leaves.context(name),
      upstreamTls: async (t) => {
        let o = tlsMemo.get(t.servername);
        if (!o) tlsMemo.set(t.servername, (o = upstreamTlsOptions({ servername: t.servername, caPem: this.upstreamCa.certPem })));
        return o;
      },
      resolve: async (host) => (host === API_HOST ? "127.0.0.1" : host),
      inject: credentialInjector(() => this.policy, secrets),
      redaction: sharedRedaction,
      approvals: this.approvals,
      audit: (r) => this.audits.push(r),
      limits: this.limits,
      log: this.log,
      now: () => new Date(),
    };
    this.interceptor = new HttpInterceptor(deps, opts);
  }

  endpoint(name: string): CompiledEndpoint {
    const ep = this.policy.endpoints.get(name);
    if (!ep) throw new Error(`no endpoint ${name}`);
    return ep;
  }

  /**
   * A dispatcher stand-in: accepts TCP, peeks the ClientHello (pushing the
   * bytes back, stream paused), then hands the flow to the interceptor.
   */
  async listen(target: () => ListenerTarget): Promise<number> {
    let n = 0;
    const server = createNetServer((sock) => {
      this.sockets.add(sock);
      sock.once("close", () => this.sockets.delete(sock));
      sock.on("error", () => {});
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const peek = peekClientHello(buf);
        if (peek.kind === "need-more") return;
        sock.off("data", onData);
        sock.pause();
        sock.unshift(buf);
        const t = target();
        const flow: Flow = {
          id: `flow-${++n}`,
          stream: sock,
          destination: t.destination,
          device: "laptop",
          profile: "default",
          transport: "proxy",
          peer: { address: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 },
        };
        const hello = peek.kind === "tls" ? { ...(peek.sni !== undefined ? { sni: peek.sni } : {}), alpn: peek.alpn } : undefined;
        void this.interceptor.intercept(flow, this.endpoint(t.endpoint), hello);
      };
      sock.on("data", onData);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    this.listeners.push(server);
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await this.interceptor.close(100);
    for (const s of this.sockets) s.destroy();
    for (const l of this.listeners) l.close();
    for (const u of [this.api, this.k8s]) {
      u.server.closeAllConnections();
      u.server.close();
    }
  }
}

/** Waits until `pred` holds (polling), or fails after `ms`. */
export async function until(pred: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The WebSocket accept value for a key (RFC 6455 §4.2.2). */
export function wsAccept(key: string): string {
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
}

/** One WebSocket text frame (payload < 126 bytes), masked when sent by a client. */
export function wsFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error("short frames only");
  if (!masked) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, body]);
}

/** Parses one short WebSocket frame; undefined while incomplete. */
export function wsParse(buf: Buffer): { text: string; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const masked = (buf[1]! & 0x80) !== 0;
  const len = buf[1]! & 0x7f;
  const start = 2 + (masked ? 4 : 0);
  if (buf.length < start + len) return undefined;
  let payload = buf.subarray(start, start + len);
  if (masked) {
    const mask = buf.subarray(2, 6);
    payload = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  }
  return { text: payload.toString(), size: start + len };
}

/** A WebSocket echo upstream route: answers the handshake, echoes every text frame. */
export function wsEcho(onHandshake?: (req: IncomingMessage) => void): UpgradeRoute {
  return (req, socket) => {
    onHandshake?.(req);
    const key = String(req.headers["sec-websocket-key"] ?? "");
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${wsAccept(key)}\r\nSet-Cookie: ws=1\r\n\r\n`,
    );
    let buf = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let f = wsParse(buf); f; f = wsParse(buf)) {
        buf = buf.subarray(f.size);
        socket.write(wsFrame(f.text, false));
      }
    });
    socket.on("error", () => {});
  };
}

export const POD_LIST = {
  kind: "PodList",
  apiVersion: "v1",
  metadata: { resourceVersion: "1" },
  items: [{ metadata: { name: "web-0", namespace: "default", creationTimestamp: "2026-01-01T00:00:00Z" }, status: { phase: "Running" } }],
};

/**
 * Scripts `upstream` as a minimal Kubernetes API server: discovery (`/api`,
 * `/api/v1`, `/apis`, `/version`), the pod list and one pod. Every route
 * insists on `Bearer <token>` (401 otherwise), so a 200 proves injection.
 * Secrets and exec are deliberately served too — only the gateway's policy
 * stands between kubectl and them.
 */
export function scriptFakeApiServer(upstream: Upstream, token: string): void {
  const json = (body: unknown) => (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  upstream.routes.set("/version", json({ major: "1", minor: "32", gitVersion: "v1.32.0-fake", platform: "linux/amd64" }));
  upstream.routes.set("/api", json({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:443" }] }));
  upstream.routes.set("/apis", json({ kind: "APIGroupList", apiVersion: "v1", groups: [] }));
  upstream.routes.set(
    "/api/v1",
    json({
      kind: "APIResourceList",
      groupVersion: "v1",
      resources: [
        { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list", "watch", "create", "delete"], shortNames: ["po"] },
        { name: "pods/exec", singularName: "", namespaced: true, kind: "PodExecOptions", verbs: ["create", "get"] },
        { name: "secrets", singularName: "secret", namespaced: true, kind: "Secret", verbs: ["get", "list"] },
      ],
    }),
  );
  upstream.routes.set("/api/v1/namespaces/default/pods", json(POD_LIST));
  upstream.routes.set(
    "/api/v1/namespaces/default/pods/web-0",
    json({
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name: "web-0", namespace: "default" },
      spec: { containers: [{ name: "app", image: "busybox" }] },
      status: { phase: "Running" },
    }),
  );
  upstream.routes.set(
    "/api/v1/namespaces/default/secrets",
    json({ kind: "SecretList", apiVersion: "v1", metadata: { resourceVersion: "1" }, items: [{ metadata: { name: "db-password", namespace: "default" }, data: { password: "aHVudGVyMg==" } }] }),
  );
  // Would accept an exec (SPDY) if the gateway let one through.
  upstream.upgrades.set("/api/v1/namespaces/default/pods/web-0/exec", (_req, socket) => {
    socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n");
    socket.on("error", () => {});
  });
}
