/**
 * Helpers for the transport and dispatcher tests: loopback servers on
 * OS-chosen ports, a raw-socket client that records what a hostile
 * handshake gets back, and the real `curl` CLI.
 */
import net from "node:net";
import http from "node:http";
import { spawn, spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import type { CompiledPolicy } from "../../policy/compiled.js";
import { Dispatcher, type DispatchEvent, type DispatcherOptions } from "../dispatch.js";
import type { Flow, FlowHandler } from "../flow.js";
import { peekClientHello } from "../tls/sni.js";
import { StaticResolver } from "./resolve.js";

/** Listens on 127.0.0.1 with an OS-chosen port. */
export async function listenLocal(server: net.Server, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

/** Closes a server, destroying whatever connections remain. */
export function closeServer(server: net.Server | http.Server): Promise<void> {
  return new Promise((resolve) => {
    if ("closeAllConnections" in server) server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** An echo server that half-closes after echoing (allowHalfOpen: it ends when the client does). */
export async function echoServer(): Promise<{ server: net.Server; port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  return { server, port: await listenLocal(server), sockets };
}

/** An HTTP server answering every request with `body` (and recording the Host header). */
export async function httpServer(body: string, host = "127.0.0.1"): Promise<{ server: http.Server; port: number; hosts: string[] }> {
  const hosts: string[] = [];
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? "");
    res.setHeader("content-type", "text/plain");
    res.end(body);
  });
  return { server, port: await listenLocal(server, host), hosts };
}

/** A dispatcher over `policy` with the real ClientHello sniffer, recording its events. */
export function testDispatcher(
  policy: CompiledPolicy | (() => CompiledPolicy),
  resolve: Record<string, string>,
  extra: Partial<DispatcherOptions> = {},
): { dispatcher: Dispatcher; events: DispatchEvent[]; flows: Flow[]; handler: FlowHandler } {
  const events: DispatchEvent[] = [];
  const flows: Flow[] = [];
  const dispatcher = new Dispatcher({
    policy: typeof policy === "function" ? policy : () => policy,
    resolver: new StaticResolver(resolve),
    sniff: peekClientHello,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  // Records each flow before it reaches the dispatcher, so tests can check
  // attribution and inspect the agent-side stream.
  const handler: FlowHandler = {
    handleFlow(flow) {
      flows.push(flow);
      dispatcher.handleFlow(flow);
    },
  };
  return { dispatcher, events, flows, handler };
}

/** What a raw client got back: every byte, and whether the server closed. */
export interface Exchange {
  data: Buffer;
  closed: boolean;
  ms: number;
}

/**
 * Connects, writes `parts` (with `gapMs` between them), half-closes when
 * `end`, and collects the reply until the server closes or `waitMs` pass.
 */
export function exchange(port: number, parts: (Buffer | string)[], opts: { gapMs?: number; waitMs?: number; end?: boolean } = {}): Promise<Exchange> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 3000);
    sock.on("data", (c) => chunks.push(c));
    sock.on("error", () => finish(true));
    sock.on("close", () => finish(true));
    sock.on("end", () => finish(true)); // the server's FIN is its close (we are half-open)
    sock.once("connect", async () => {
      for (const [i, p] of parts.entries()) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        if (done || sock.destroyed) return;
        sock.write(p);
      }
      if (opts.end) sock.end();
    });
  });
}

/** Whether `curl` is runnable; outside CI a missing curl skips, in CI it fails. */
export function requireCurl(t: TestContext): boolean {
  const r = spawnSync("curl", ["--version"], { encoding: "utf8" });
  if (!r.error && r.status === 0) return true;
  if (process.env["CI"]) throw new Error("curl is required for these tests (CI) but is not runnable");
  t.skip("curl not installed");
  return false;
}

/** Runs curl asynchronously (the servers under test share this event loop) with a clean proxy environment. */
export function curl(args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: "/nonexistent" };
    const child = spawn("curl", ["--silent", "--show-error", "--noproxy", "", "--max-time", String(timeoutMs / 1000), ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.on("error", (err) => resolve({ code: -1, stdout, stderr: String(err) }));
  });
}

/** Polls until `cond` holds (or fails after `ms`). */
export async function until(cond: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
