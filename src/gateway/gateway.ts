/**
 * The gateway process: the composition root that wires config, store, data
 * plane and the agent-facing info listener together (ARCHITECTURE §3: the
 * data plane never imports the operator API, the store imports neither).
 *
 * Lifecycle:
 * - start: load and compile the config (errors abort the start), open the
 *   state database, load or mint the CA, start the info listener and the
 *   local transports, all feeding one dispatcher;
 * - reload (file change, SIGHUP, `reload()`): a new config that loads and
 *   compiles replaces the policy atomically — flows and requests read the
 *   policy per decision; a broken one is rejected with its diagnostics in the
 *   log and the old policy keeps serving. Changes to the `gateway {}` block
 *   are reported as needing a restart;
 * - close: stop listening, let in-flight requests drain (bounded), close the
 *   database.
 */
import { watch, type FSWatcher } from "node:fs";
import { createServer, type Server } from "node:http";
import { homedir } from "node:os";
import { dirname, resolve as resolvePath } from "node:path";
import { formatDiagnostic, hasErrors } from "../config/diagnostics.js";
import { loadPolicy } from "../config/policy.js";
import type { CompiledEndpoint, CompiledPolicy } from "../policy/compiled.js";
import { openStore, type Store } from "../store/db.js";
import type { NewAction } from "../store/actions.js";
import { ApprovalsEngine } from "./approvals.js";
import { AuditWriter } from "./audit-writer.js";
import { ThreadedAuditSink } from "../store/audit-thread.js";
import { Dispatcher } from "./dispatch.js";
import { AddressClaims } from "./address-claims.js";
import { HttpInterceptor } from "./protocols/http/intercept.js";
import { asInterceptHandler, credentialInjector, sharedRedaction, toNewAction, upstreamTlsFor } from "./protocols/http/adapters.js";
import { DEFAULT_LIMITS, type BodyLimits } from "./protocols/http/ports.js";
import { PostgresInterceptor } from "./protocols/postgres/intercept.js";
import { SshInterceptor } from "./protocols/ssh/intercept.js";
import { hostKeysFrom, sshAuthFrom } from "./protocols/ssh/adapters.js";
import { initSqlAnalyzer } from "../policy/sql/analyze.js";
import { envVarCollisions, SecretResolver } from "./secrets.js";
import { loadOrCreateCa, type GatewayCa } from "./tls/ca.js";
import { LeafCache } from "./tls/leaf.js";
import { peekClientHello } from "./tls/sni.js";
import { localTransportsOf, startLocalTransports } from "./transport/local.js";
import type { LocalListener } from "./transport/listener.js";
import { StaticResolver } from "./transport/resolve.js";
import type { Logger } from "./log.js";
import { parseDuration, parseSize } from "../types/formats.js";

export interface GatewayOptions {
  /** Config file or directory. */
  configPath: string;
  log: Logger;
  /** Overrides `gateway.state_dir` (tests, quickstart). */
  stateDir?: string;
  /** Watch the config for changes (default true). */
  watch?: boolean;
}

export interface RunningGateway {
  /** Current compiled policy. */
  policy(): CompiledPolicy;
  /** Where the info listener is (`/ca.crt`, `/info`). */
  infoAddress(): { host: string; port: number } | undefined;
  /** Local transport addresses, as bound. */
  listeners(): { kind: string; address: string }[];
  ca: GatewayCa;
  store: Store;
  approvals: ApprovalsEngine;
  /**
   * Live audit stream: every action as it is recorded (already redacted).
   * Returns the unsubscribe function.
   */
  subscribeActions(listener: (row: NewAction & { id: number }) => void): () => void;
  /** Writes queued audit rows now (they are otherwise batched for a few ms). */
  flushAudit(): void;
  /** Re-reads the config; resolves true when the new policy is in force. */
  reload(): boolean;
  close(graceMs?: number): Promise<void>;
}

/** Thrown when the gateway cannot start (config errors, unusable state dir, port in use). */
export class GatewayStartError extends Error {}

function stateDirOf(policy: CompiledPolicy, override?: string): string {
  const v = override ?? policy.config.gateway?.fields.state_dir;
  const dir = typeof v === "string" && v !== "" ? v : "~/.clawpatrol";
  return resolvePath(dir.replace(/^~(?=$|\/)/, homedir()));
}

function limitsOf(policy: CompiledPolicy): BodyLimits {
  const block = policy.config.gateway?.blocks.limits?.[0];
  const size = (name: string, fallback: number) => {
    const v = block?.fields[name];
    if (typeof v !== "string" && typeof v !== "number") return fallback;
    const parsed = parseSize(String(v));
    return parsed.ok ? parsed.value : fallback;
  };
  return { bodyBuffer: size("body_buffer", DEFAULT_LIMITS.bodyBuffer), bodyStorage: size("body_storage", DEFAULT_LIMITS.bodyStorage) };
}

const DEFAULT_KEEP_MS = 720 * 3600 * 1000;

/** How long a duration setting keeps rows: `"0"`/`"off"` ⇒ forever (null); unset ⇒ `fallback`. */
function keepOf(value: unknown, fallback: number | null): number | null {
  if (typeof value !== "string") return fallback;
  if (value === "off" || value === "0") return null;
  const d = parseDuration(value);
  return d.ok && d.value > 0 ? d.value : fallback;
}

/** `actions_keep` and the per-endpoint `retention` overrides, for the retention sweep. */
function retentionOf(policy: CompiledPolicy): { keepMs: number | null; endpoints: Record<string, number | null> } {
  const endpoints: Record<string, number | null> = {};
  for (const ep of policy.endpoints.values()) {
    const r = ep.decl.block.fields.retention;
    if (typeof r === "string") endpoints[ep.key] = keepOf(r, null);
  }
  return { keepMs: keepOf(policy.config.gateway?.fields.actions_keep, DEFAULT_KEEP_MS), endpoints };
}

/** Serializes what a restart would be needed for, to warn when a reload changes it. */
function gatewayFingerprint(policy: CompiledPolicy): string {
  return JSON.stringify(policy.config.gateway ? { f: policy.config.gateway.fields, b: policy.config.gateway.blocks } : null, (k, v) =>
    k === "range" || k === "defRange" || k === "fieldRanges" ? undefined : v,
  );
}

/** Starts a gateway. */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const { log } = opts;
  const first = loadPolicy(opts.configPath);
  for (const d of first.diagnostics) (d.severity === "error" ? log.error : log.warn)(formatDiagnostic(d));
  if (!first.policy) throw new GatewayStartError(`config ${opts.configPath} has errors; not starting`);
  let policy: CompiledPolicy = first.policy;
  const current = () => policy;
  let limits = limitsOf(policy);

  const store = openStore(stateDirOf(policy, opts.stateDir));
  for (const w of store.warnings) log.warn(w);
  const ca = await loadOrCreateCa(store.settings);
  log.info("gateway CA ready", { fingerprint: ca.fingerprint256, state: store.path });
  const leaves = new LeafCache(ca);
  const secrets = new SecretResolver({ store: store.secrets, warn: (m) => log.warn(m) });
  warnEnvCollisions(policy, log);
  const approvals = new ApprovalsEngine();
  // Audit inserts run on their own thread and connection, off the data plane (see store/audit-thread.ts).
  const auditSink = new ThreadedAuditSink(dirname(store.path), (rows) => store.actions.insertMany(rows));
  const audit = new AuditWriter(auditSink, {
    onError: (e, rows) => log.error("audit write failed", { error: e.message, rows }),
  });
  const transports = localTransportsOf(policy.config.gateway);
  const resolver = new StaticResolver(transports.resolve);

  const http = new HttpInterceptor<CompiledEndpoint>({
    policy: current,
    secureContext: (name) => leaves.context(name),
    upstreamTls: upstreamTlsFor(current, secrets),
    resolve: (host) => resolver.resolve(host),
    inject: credentialInjector(current, secrets),
    redaction: sharedRedaction,
    approvals,
    audit: (record) => audit.record(toNewAction(record)),
    get limits() {
      return limits;
    },
    log,
    now: () => new Date(),
  });
  const httpHandler = asInterceptHandler(http);
  await initSqlAnalyzer();
  const postgres = new PostgresInterceptor({
    policy: current,
    secureContext: (name) => leaves.context(name),
    resolve: (host) => resolver.resolve(host),
    password: (credential) => secrets.get(credential),
    approvals,
    audit: (row) => audit.record(row),
    get limits() {
      return { inspectBytes: limits.bodyBuffer, sampleBytes: limits.bodyStorage };
    },
    log,
    now: () => new Date(),
  });
  const sshHostKeys = hostKeysFrom(store.settings, log);
  // Mint/load each ssh endpoint's host key now, so its fingerprint is in the log before any agent asks.
  for (const ep of policy.endpoints.values()) if (ep.family === "ssh") sshHostKeys(ep.key);
  const ssh = new SshInterceptor({
    policy: current,
    resolve: (host) => resolver.resolve(host),
    hostKey: sshHostKeys,
    upstreamAuth: sshAuthFrom(current, secrets),
    approvals,
    audit: (row) => audit.record(row),
    log,
    now: () => new Date(),
  });
  let addresses: AddressClaims | undefined;
  const rebuildAddresses = (p: CompiledPolicy) =>
    AddressClaims.build(p, (h) => resolver.resolveAll(h), (host, e) => log.warn("cannot resolve an endpoint host; flows by address will not reach it", { host, error: e.message }))
      .then((claims) => {
        if (p === policy) addresses = claims;
      })
      .catch((e: Error) => log.error("address claims failed", { error: e.message }));
  await rebuildAddresses(policy);
  // DNS answers move (a managed database fails over): refresh the table now and then.
  const addressRefresh = setInterval(() => void rebuildAddresses(policy), 300_000);
  addressRefresh.unref();
  const dispatcher = new Dispatcher({
    policy: current,
    addresses: () => addresses,
    resolver,
    sniff: peekClientHello,
    handlers: { byType: { postgres, ssh }, byFamily: { http: httpHandler, k8s: httpHandler } },
    onEvent: (e) => {
      if (e.type === "flow-closed") log.info("flow closed", { flow: e.flow.id, device: e.flow.device, reason: e.reason });
      else if (e.type === "route") log.debug("flow routed", { flow: e.flow.id, to: `${e.flow.destination.host}:${e.flow.destination.port}`, route: e.route.kind });
    },
  });

  let listeners: LocalListener[] = [];
  let info: Server | undefined;
  try {
    info = await startInfoListener(policy, ca, () => ({ listeners: listeners.map(describeListener) }));
    listeners = await startLocalTransports(transports, dispatcher, (e) => log.info("transport connection refused", { ...e }));
  } catch (e) {
    info?.close();
    store.close();
    throw new GatewayStartError(`cannot start listeners: ${(e as Error).message}`);
  }
  for (const l of listeners) log.info("transport listening", describeListener(l));
  const infoAddr = info.address();
  if (infoAddr && typeof infoAddr === "object") log.info("info listener", { url: `http://${infoAddr.address}:${infoAddr.port}/info` });

  const fingerprint = gatewayFingerprint(policy);
  const reload = (): boolean => {
    const next = loadPolicy(opts.configPath);
    if (!next.policy || hasErrors(next.diagnostics)) {
      log.error("config reload rejected; the previous policy keeps serving", {
        diagnostics: next.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic),
      });
      return false;
    }
    for (const d of next.diagnostics) log.warn(formatDiagnostic(d));
    if (gatewayFingerprint(next.policy) !== fingerprint) {
      log.warn("the gateway {} block changed; listeners and state_dir changes take effect after a restart");
    }
    policy = next.policy;
    limits = limitsOf(policy);
    void rebuildAddresses(policy);
    warnEnvCollisions(policy, log);
    log.info("config reloaded", { endpoints: policy.endpoints.size, rules: policy.config.rules.length });
    return true;
  };

  const sweep = () => {
    try {
      audit.flush();
      const deleted = store.actions.applyRetention(Date.now(), retentionOf(policy));
      if (deleted > 0) log.info("audit retention", { deleted });
    } catch (e) {
      log.error("audit retention failed", { error: (e as Error).message });
    }
  };
  sweep();
  const sweeper = setInterval(sweep, 3600_000);
  sweeper.unref();

  let watcher: FSWatcher | undefined;
  if (opts.watch !== false) {
    let timer: NodeJS.Timeout | undefined;
    try {
      watcher = watch(opts.configPath, { persistent: false }, () => {
        clearTimeout(timer);
        timer = setTimeout(reload, 200);
      });
    } catch (e) {
      log.warn("cannot watch the config for changes; use SIGHUP to reload", { error: (e as Error).message });
    }
  }

  return {
    policy: current,
    infoAddress: () => {
      const a = info?.address();
      return a && typeof a === "object" ? { host: a.address, port: a.port } : undefined;
    },
    listeners: () => listeners.map(describeListener),
    ca,
    store,
    approvals,
    reload,
    subscribeActions: (listener) => audit.subscribe(listener),
    flushAudit: () => audit.flush(),
    async close(graceMs = 10_000) {
      clearInterval(sweeper);
      clearInterval(addressRefresh);
      watcher?.close();
      await Promise.all(listeners.map((l) => l.close()));
      await new Promise<void>((r) => info!.close(() => r()));
      await http.close(graceMs);
      await ssh.close();
      postgres.close();
      dispatcher.close();
      audit.flush();
      await auditSink.close();
      store.close();
    },
  };
}

/** Warns about credentials whose `CLAWPATROL_SECRET_*` variable names collide (name mangling is lossy). */
function warnEnvCollisions(policy: CompiledPolicy, log: Logger): void {
  for (const [variable, credentials] of envVarCollisions(policy.config.credentials.map((c) => ({ credential: c.name })))) {
    log.warn("credentials share one secret environment variable; set their secrets in the store instead", { variable, credentials });
  }
}

function describeListener(l: LocalListener): { kind: string; address: string } {
  const a = l.address();
  return { kind: l.constructor.name.replace(/Listener$/, "").toLowerCase(), address: a ? `${a.address}:${a.port}` : "" };
}

/**
 * The agent-facing info listener on `dashboard_listen`: `/ca.crt` (the CA
 * agents must trust) and `/info` (public facts: CA fingerprint,
 * transports). Nothing here needs auth and nothing here is secret; the
 * management API joins this listener in a later issue, behind auth.
 */
async function startInfoListener(policy: CompiledPolicy, ca: GatewayCa, extra: () => Record<string, unknown>): Promise<Server> {
  const listen = policy.config.gateway?.fields.dashboard_listen;
  const [host, port] = splitListen(typeof listen === "string" ? listen : "127.0.0.1:8080");
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }).end("method not allowed\n");
      return;
    }
    if (path === "/ca.crt") {
      res.writeHead(200, { "content-type": "application/x-pem-file", "content-disposition": 'attachment; filename="clawpatrol-ca.crt"' });
      res.end(ca.certPem);
      return;
    }
    if (path === "/info") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`${JSON.stringify({ product: "clawpatrol", ca: { fingerprint_sha256: ca.fingerprint256, subject: ca.subject, url: "/ca.crt" }, ...extra() }, null, 2)}\n`);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

function splitListen(listen: string): [string, number] {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0";
  return [host, Number(listen.slice(i + 1))];
}
