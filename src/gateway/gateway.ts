/**
 * The gateway process: the composition root that wires config, store, data
 * plane and the web listener (agent-facing `/ca.crt` and `/info`, the
 * management API, the dashboard) together (ARCHITECTURE §3: the data plane
 * never imports the operator API, the store imports neither; the web layer
 * sees the gateway only through the narrow `WebDeps` built here).
 *
 * Lifecycle:
 * - start: load and compile the config (errors abort the start), open the
 *   state database, load or mint the CA, start the web listener and the
 *   local transports, all feeding one dispatcher;
 * - reload (file change, SIGHUP, `reload()`): a new config that loads and
 *   compiles replaces the policy atomically — flows and requests read the
 *   policy per decision; a broken one is rejected with its diagnostics in the
 *   log and the old policy keeps serving. Changes to the `gateway {}` block
 *   are reported as needing a restart;
 * - close: stop listening, let in-flight requests drain (bounded), close the
 *   database.
 */
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve as resolvePath } from "node:path";
import { formatDiagnostic, hasErrors } from "../config/diagnostics.js";
import { loadPolicy } from "../config/policy.js";
import type { CompiledEndpoint, CompiledPolicy } from "../policy/compiled.js";
import type { Config } from "../config/model.js";
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
import { WireGuardTransport } from "./transport/wireguard/transport.js";
import { wireguardConfigOf } from "./transport/wireguard/config.js";
import { nextFreeAddress } from "./transport/wireguard/subnet.js";
import { combineLookups, createTunnelDns, VirtualIps, virtualAddressLookup, virtualAwareResolver, wireguardSubnetsOf } from "./transport/dns/index.js";
import { createAgentServer, type AgentServer } from "../web/agent.js";
import type { WebDeps, WebWireGuard } from "../web/deps.js";
import type { Logger } from "./log.js";
import { parseDuration, parseSize } from "../types/formats.js";
import { startWebServer, type WebServer } from "../web/server.js";

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
  /** Where the web listener is (`/ca.crt`, `/info`, the dashboard and `/api/`). */
  infoAddress(): { host: string; port: number } | undefined;
  /** Local transport addresses, as bound. */
  listeners(): { kind: string; address: string }[];
  ca: GatewayCa;
  store: Store;
  approvals: ApprovalsEngine;
  /** The WireGuard transport, when `gateway { wireguard {} }` is configured. */
  wireguard: WireGuardTransport | undefined;
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

/** The package version (package.json next to dist/), for `GET /api/state`. */
const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
})();

/** Thrown when the gateway cannot start (config errors, unusable state dir, port in use). */
export class GatewayStartError extends Error {}

/** The absolute state directory of a config (`gateway.state_dir`, default `~/.clawpatrol`), or the override. */
export function stateDirOf(policy: { config: Pick<Config, "gateway"> }, override?: string): string {
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
  const auditSink = new ThreadedAuditSink(dirname(store.path), (rows) => store.actions.insertEncoded(rows));
  const audit = new AuditWriter(auditSink, {
    onError: (e, rows) => log.error("audit write failed", { error: e.message, rows }),
  });
  const transports = localTransportsOf(policy.config.gateway);
  const resolver = new StaticResolver(transports.resolve);
  // WireGuard: DNS in the tunnel with virtual addresses for endpoints that need them (transport/dns/).
  const wgConfig = wireguardConfigOf(policy.config.gateway);
  const virtualIps = wgConfig ? new VirtualIps(store.settings, { exclude: wireguardSubnetsOf(policy.config.gateway) }) : undefined;
  const tunnelDns = virtualIps
    ? createTunnelDns({ policy: current, virtualIps, onError: (message, fields) => log.warn(`tunnel DNS: ${message}`, fields) })
    : undefined;
  tunnelDns?.prepare();
  const virtualLookup = virtualIps ? virtualAddressLookup(current, virtualIps) : undefined;

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
    addresses: () => (virtualLookup ? combineLookups(addresses, virtualLookup) : addresses),
    resolver: virtualIps ? virtualAwareResolver(resolver, virtualIps) : resolver,
    sniff: peekClientHello,
    handlers: { byType: { postgres, ssh }, byFamily: { http: httpHandler, k8s: httpHandler } },
    onEvent: (e) => {
      if (e.type === "flow-closed") log.info("flow closed", { flow: e.flow.id, device: e.flow.device, reason: e.reason });
      else if (e.type === "route") log.debug("flow routed", { flow: e.flow.id, to: `${e.flow.destination.host}:${e.flow.destination.port}`, route: e.route.kind });
    },
  });

  // WireGuard: the device and its key exist now (web deps advertise the key); it listens after the web server.
  let agent: AgentServer | undefined;
  const dashboardListen = policy.config.gateway?.fields.dashboard_listen;
  const [dashHost, dashPort] = splitListen(typeof dashboardListen === "string" ? dashboardListen : "127.0.0.1:8080");
  let wireguard: WireGuardTransport | undefined;
  let webWireguard: WebWireGuard | undefined;
  if (wgConfig) {
    wireguard = new WireGuardTransport({
      subnetCidr: wgConfig.subnetCidr,
      listenPort: wgConfig.listenPort,
      settings: store.settings,
      peers: store.devices,
      handler: dispatcher,
      ...(tunnelDns ? { dns: { udp: (d) => tunnelDns.handleUdp(d.payload, (answer) => d.reply(answer)), tcp: (conn) => tunnelDns.handleTcp(conn) } } : {}),
      agentHttp: (conn) => (agent ? agent.handleConnection(conn) : conn.destroy()),
      agentHttpPort: dashPort,
      log: (msg, detail) => log.info(msg, detail),
    });
    if (wgConfig.serverPub && wgConfig.serverPub !== wireguard.publicKey) {
      log.warn("wireguard.server_pub differs from the key in the gateway's state; clients are given the state's key", { state: wireguard.publicKey });
    }
    const subnet = wireguard.subnet;
    webWireguard = {
      publicKey: wireguard.publicKey,
      endpoint: wgConfig.endpoint,
      listenPort: wgConfig.listenPort,
      subnetCidr: subnet.cidr,
      address: subnet.gateway,
      agentPort: dashPort,
      allocate: (used) => nextFreeAddress(subnet, used),
    };
  }

  let listeners: LocalListener[] = [];
  let web: WebServer | undefined;
  // Declared before the web server starts (its routes call reload); assigned below.
  let reload: () => boolean = () => false;
  try {
    // The web layer gets a narrow view of the gateway, never the data plane itself.
    const webDeps: WebDeps = {
      policy: current,
      store,
      approvals,
      subscribeActions: (listener) => audit.subscribe(listener),
      flushAudit: () => audit.flush(),
      reload: () => reload(),
      ca,
      listeners: () => listeners.map(describeListener),
      configPath: opts.configPath,
      startedAt: Date.now(),
      version: VERSION,
      log,
      ...(webWireguard ? { wireguard: webWireguard } : {}),
      sshHostKeys: () =>
        [...policy.endpoints.values()]
          .filter((ep) => ep.family === "ssh")
          .map((ep) => {
            const k = sshHostKeys(ep.key);
            return { endpoint: ep.key, hosts: [...ep.decl.hosts], publicKey: k.publicKey, fingerprint: k.fingerprint };
          }),
    };
    web = await startWebServer(webDeps, { host: dashHost, port: dashPort });
    listeners = await startLocalTransports(transports, dispatcher, (e) => log.info("transport connection refused", { ...e }));
    if (wireguard) {
      agent = createAgentServer(webDeps);
      const port = await wireguard.start();
      log.info("wireguard listening", {
        port,
        public_key: wireguard.publicKey,
        address: wireguard.address,
        subnet: wireguard.subnet.cidr,
        endpoint: wgConfig?.endpoint ?? "(clients use the gateway URL's host)",
        peers: wireguard.peers().length,
      });
    }
  } catch (e) {
    wireguard?.close();
    await web?.close();
    store.close();
    throw new GatewayStartError(`cannot start listeners: ${(e as Error).message}`);
  }
  for (const l of listeners) log.info("transport listening", describeListener(l));
  const webAddr = web.address();
  if (webAddr) log.info("dashboard and API listening", { url: `http://${webAddr.host.includes(":") ? `[${webAddr.host}]` : webAddr.host}:${webAddr.port}/` });
  if (store.users.count() === 0) log.warn("no dashboard user yet: open the dashboard to set the first password, or run `clawpatrol gateway --set-dashboard-password`");

  const fingerprint = gatewayFingerprint(policy);
  reload = (): boolean => {
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
    tunnelDns?.prepare();
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
  let closing = false;
  if (opts.watch !== false) {
    let timer: NodeJS.Timeout | undefined;
    const startWatch = (): void => {
      watcher = watch(opts.configPath, { persistent: false }, (event) => {
        clearTimeout(timer);
        timer = setTimeout(reload, 200);
        // An atomic save (editor, `PUT /api/config`) renames a new file over the old one: the
        // watch would stay on the replaced inode, so re-arm it on the new file.
        if (event === "rename") {
          watcher?.close();
          setTimeout(() => {
            if (closing) return;
            try {
              startWatch();
            } catch (e) {
              log.warn("cannot watch the config for changes; use SIGHUP to reload", { error: (e as Error).message });
            }
          }, 50).unref();
        }
      });
    };
    try {
      startWatch();
    } catch (e) {
      log.warn("cannot watch the config for changes; use SIGHUP to reload", { error: (e as Error).message });
    }
  }

  return {
    policy: current,
    infoAddress: () => web?.address(),
    listeners: () => listeners.map(describeListener),
    ca,
    store,
    approvals,
    wireguard,
    reload,
    subscribeActions: (listener) => audit.subscribe(listener),
    flushAudit: () => audit.flush(),
    async close(graceMs = 10_000) {
      clearInterval(sweeper);
      clearInterval(addressRefresh);
      closing = true;
      watcher?.close();
      await Promise.all(listeners.map((l) => l.close()));
      wireguard?.close();
      agent?.close();
      await web!.close();
      await http.close(graceMs);
      await ssh.close();
      postgres.close();
      tunnelDns?.close();
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

function splitListen(listen: string): [string, number] {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0";
  return [host, Number(listen.slice(i + 1))];
}
