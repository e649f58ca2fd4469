/**
 * The Postgres endpoint runtime: what the dispatcher hands a flow to when a
 * `postgres` endpoint claims it.
 *
 * 1. Agent startup (./startup.ts): TLS if asked, the StartupMessage — or a
 *    CancelRequest, which is routed to the upstream backend it names.
 * 2. Credential: the profile's `postgres_credential` for this endpoint,
 *    chosen by the StartupMessage `user` / `database` (or a placeholder
 *    password, when the profile tells credentials apart by placeholder).
 *    None ⇒ FATAL 28000 telling the operator what to bind.
 * 3. Upstream (./upstream.ts): dial, TLS per `sslmode`, log in with the
 *    stored password. The agent is told `AuthenticationOk`, gets the
 *    server's ParameterStatus messages and a cancel key of the gateway's.
 * 4. The gated session (./session.ts).
 */
import type { Duplex } from "node:stream";
import type { SecureContext } from "node:tls";
import type { CompiledEndpoint } from "../../../policy/compiled.js";
import { resolveCredential } from "../../../policy/decide.js";
import type { NewAction } from "../../../store/actions.js";
import { getString } from "../../../types/common.js";
import type { InterceptHandler, InterceptRoute, TlsHello } from "../../dispatch.js";
import type { Flow } from "../../flow.js";
import { CancelRegistry } from "./cancel.js";
import type { GateDeps, GateSession } from "./gate.js";
import { PgSession } from "./session.js";
import { agentHello, fatal, STARTUP_TIMEOUT_MS } from "./startup.js";
import { openUpstream, sendCancel, UpstreamError, type SslMode, type UpstreamTarget } from "./upstream.js";
import { authenticationCleartext, authenticationOk, backendKeyData, BodyReader, ProtocolError, readyForQuery } from "./wire.js";

/** Startup parameters passed upstream; everything else the agent sends is dropped (see {@link upstreamParams}). */
export const FORWARDED_PARAMS: ReadonlySet<string> = new Set([
  "application_name",
  "client_encoding",
  "datestyle",
  "timezone",
  "intervalstyle",
  "extra_float_digits",
]);

export interface PostgresLimits {
  /** Statement bytes the gate inspects (`limits.body_buffer`, 1 MiB by default). */
  inspectBytes: number;
  /** Statement bytes an audit row keeps (`limits.body_storage`). */
  sampleBytes: number;
}

export interface PostgresDeps extends GateDeps {
  /** Leaf certificate for the name the agent dialed (`LeafCache.context`). */
  secureContext(name: string): Promise<SecureContext>;
  /** Address to dial for a host (`UpstreamResolver.resolve`). */
  resolve(host: string): Promise<string>;
  /** The stored password of a credential (never logged, never sent to the agent). */
  password(credential: string): string | undefined;
  audit(row: NewAction): void;
  readonly limits: PostgresLimits;
  log: GateDeps["log"] & { warn(msg: string, f?: Record<string, unknown>): void; debug(msg: string, f?: Record<string, unknown>): void };
}

/** Largest message an agent may send (a statement may be far larger than what the gate inspects). */
const MAX_AGENT_FRAME = 64 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

export class PostgresInterceptor implements InterceptHandler {
  readonly #deps: PostgresDeps;
  readonly #cancels = new CancelRegistry();
  readonly #sessions = new Set<PgSession>();

  constructor(deps: PostgresDeps) {
    this.#deps = deps;
  }

  /** Ends every session (gateway shutdown; Postgres clients see the connection close). */
  close(): void {
    for (const s of [...this.#sessions]) s.destroy();
  }

  /** Sessions relaying now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  intercept(flow: Flow, endpoint: CompiledEndpoint, _tls: TlsHello | undefined, route: InterceptRoute): Promise<void> {
    flow.stream.on("error", () => flow.stream.destroy());
    // The stream errors are written to: the TLS socket once the agent asked for TLS.
    const agent = { stream: flow.stream as Duplex };
    return this.#run(flow, endpoint, route, agent).catch((e: unknown) => {
      const msg = e instanceof ProtocolError || e instanceof UpstreamError ? e.message : "internal error";
      this.#deps.log.info("postgres connection ended at startup", { flow: flow.id, endpoint: endpoint.key, error: (e as Error)?.message });
      fatal(agent.stream, e instanceof UpstreamError ? e.code : "08P01", e instanceof ProtocolError ? `protocol violation: ${msg}` : msg);
    });
  }

  async #run(flow: Flow, endpoint: CompiledEndpoint, route: InterceptRoute, agent: { stream: Duplex }): Promise<void> {
    const deps = this.#deps;
    const hostName = route.upstream.host;
    const hello = await agentHello(flow.stream, () => deps.secureContext(hostName), (tls) => (agent.stream = tls));
    if (hello.kind === "cancel") return this.#cancel(flow, hello.pid, hello.secret);
    const { stream, params, ms } = hello;
    const user = params.get("user") ?? "";
    const database = params.get("database") || user;
    if (user === "") throw new ProtocolError("no user name in the StartupMessage");
    if (params.has("replication")) {
      return fatal(stream, "28000", "replication connections are not allowed through the gateway");
    }

    // Which credential: user / database, or a placeholder password when the profile asks for one.
    const table = deps.policy().profiles.get(flow.profile)?.dispatch.get(endpoint.name) ?? [];
    let texts: string[] | undefined;
    if (table.some((e) => e.discriminators.placeholder !== undefined)) {
      stream.write(authenticationCleartext());
      const f = await ms.next(STARTUP_TIMEOUT_MS);
      if (f.type !== "p") throw new ProtocolError("expected a password message");
      texts = [new BodyReader(f.body).cstring()];
    }
    const entry = resolveCredential(table, { family: "sql", host: hostName, sql: emptySql(database), dispatch: { user, database, ...(texts ? { texts } : {}) } });
    if (!entry) {
      deps.log.info("postgres: no credential matches", { flow: flow.id, endpoint: endpoint.key, profile: flow.profile, user, database });
      return fatal(
        stream,
        "28000",
        `clawpatrol: no credential for user "${user}" on database "${database}" at ${endpoint.key} (profile "${flow.profile}")`,
        `Bind a postgres_credential for ${endpoint.key} in profile "${flow.profile}" whose user/database match, or connect as a user one of them names.`,
      );
    }
    const decl = deps.policy().config.credentials.find((c) => c.name === entry.credential);
    const upstreamUser = (decl && getString(decl.block, "user")) || user;

    const block = endpoint.decl.block;
    const caPem = getString(block, "ca_cert");
    const target: UpstreamTarget = {
      address: await deps.resolve(hostName).catch((e: Error) => {
        throw new UpstreamError(`cannot resolve ${hostName}: ${e.message}`, "08001");
      }),
      port: route.upstream.port,
      servername: hostName,
      sslmode: (getString(block, "sslmode") as SslMode | undefined) ?? "prefer",
      ...(caPem !== undefined ? { caPem } : {}),
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    };
    const upstream = await openUpstream(target, upstreamParams(params, upstreamUser, database), () => deps.password(entry.credential));
    const agentLeftover = ms.detach();
    if (!stream.writable) {
      upstream.socket.destroy();
      return;
    }
    const key = upstream.backendKey ? this.#cancels.issue({ target, key: upstream.backendKey }) : undefined;
    stream.write(
      Buffer.concat([
        authenticationOk(),
        ...upstream.parameterFrames,
        ...upstream.noticeFrames,
        ...(key ? [backendKeyData(key.pid, key.secret)] : []),
        readyForQuery(upstream.txStatus),
      ]),
    );
    deps.log.debug("postgres session started", { flow: flow.id, endpoint: endpoint.key, credential: entry.credential, user, database, tls: hello.tls, upstreamTls: upstream.tls });

    const gate: GateSession = {
      endpoint,
      host: hostName,
      device: flow.device,
      profile: flow.profile,
      transport: flow.transport,
      ...(flow.peer ? { peerIp: flow.peer.address } : {}),
      user,
      database,
      credential: entry.credential,
    };
    const session = new PgSession(stream, upstream.socket, upstream.txStatus, {
      gate,
      deps,
      audit: (row) => deps.audit(row),
      inspectBytes: deps.limits.inspectBytes,
      sampleBytes: deps.limits.sampleBytes,
      maxFrame: MAX_AGENT_FRAME,
      log: deps.log,
      onClose: () => {
        key?.release();
        this.#sessions.delete(session);
      },
    });
    this.#sessions.add(session);
    session.start(agentLeftover, upstream.leftover);
  }

  /** A CancelRequest: forward it to the upstream backend behind the key, if that session is alive. */
  async #cancel(flow: Flow, pid: number, secret: number): Promise<void> {
    flow.stream.destroy();
    const t = this.#cancels.lookup(pid, secret);
    if (!t) {
      this.#deps.log.info("postgres cancel request for an unknown key ignored", { flow: flow.id });
      return;
    }
    await sendCancel(t.target, t.key).catch((e: Error) => this.#deps.log.warn("postgres cancel request failed", { error: e.message }));
  }
}

/**
 * The StartupMessage sent upstream: the credential's user, the agent's
 * database, and only the harmless session settings the agent asked for.
 * `options` and other GUCs are dropped: they could set `role` or
 * `session_replication_role` at connect time, around the rules that gate
 * `SET ROLE`; `replication` is refused before we get here.
 */
export function upstreamParams(agent: ReadonlyMap<string, string>, user: string, database: string): Map<string, string> {
  const out = new Map<string, string>([
    ["user", user],
    ["database", database],
  ]);
  for (const [k, v] of agent) if (FORWARDED_PARAMS.has(k.toLowerCase())) out.set(k, v);
  return out;
}

function emptySql(database: string) {
  return { verb: "", verbs: [], tables: [], functions: [], statement: "", database };
}
