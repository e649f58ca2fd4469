/**
 * Helpers for the Postgres suites: a real cluster (TLS on, roles for each
 * password method), a gateway in this process forwarding local ports to
 * it, and real clients (`psql`, `pgbench`) spawned with an environment that
 * holds only a placeholder password — never the real one.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type RunningGateway } from "../src/gateway/gateway.js";
import { createLogger } from "../src/gateway/log.js";
import { freePort } from "../src/testing/net.js";
import { spawnCapture, type CaptureOptions, type Captured } from "../src/testing/spawn.js";
import { startPgCluster, type PgCluster } from "../src/testing/pg-cluster.js";

export const PASSWORDS = {
  app: "app-real-password-7d1f0c9e",
  appmd5: "md5-real-password-3b8e2a41",
  appclear: "clear-real-password-a90c55e2",
};
/** What the agent holds instead of a password. */
export const PLACEHOLDER = "clawpatrol-placeholder";

export interface PgWorld {
  pg: PgCluster;
  gw: RunningGateway;
  /** Forward ports: plain name claim, verify-full upstream, require upstream. */
  ports: { db: number; tls: number; req: number; badca: number; socks: number };
  dir: string;
  close(): Promise<void>;
}

/** Rules the suite runs on: read-only, an approval zone, and a rule on statement text. */
const RULES = `
rule "read-only" {
  endpoints = [postgres.db, postgres.db_tls, postgres.db_req]
  condition = "op.class in ['write', 'delete', 'admin', 'exec']"
  verdict   = "deny"
  reason    = "read-only access: writes are not allowed"
}
rule "approval-zone" {
  endpoint  = postgres.db
  priority  = 10
  condition = "'approval_zone' in sql.tables"
  approve   = [builtin.dashboard]
}
`;

export async function startPgWorld(): Promise<PgWorld> {
  const pg = await startPgCluster({
    ssl: true,
    databases: ["appdb"],
    roles: [
      { name: "app", password: PASSWORDS.app, auth: "scram-sha-256" },
      { name: "appmd5", password: PASSWORDS.appmd5, auth: "md5" },
      { name: "appclear", password: PASSWORDS.appclear, auth: "password" },
    ],
  });
  await pg.sql(
    `create table items(id int primary key, name text);
     insert into items select g, 'item ' || g from generate_series(1, 5) g;
     create table approval_zone(id int);
     insert into approval_zone values (42);
     grant all on all tables in schema public to app, appmd5, appclear;`,
    { database: "appdb" },
  );
  const dir = mkdtempSync(join(tmpdir(), "clawpatrol-pg-"));
  writeFileSync(join(dir, "ca.pem"), pg.caPem ?? "");
  const ports = { db: await freePort(), tls: await freePort(), req: await freePort(), badca: await freePort(), socks: await freePort() };
  const info = await freePort();
  const hcl = `schema_version = 1
gateway {
  state_dir        = "${dir}/state"
  dashboard_listen = "127.0.0.1:${info}"
  resolve = { "db.internal" = "127.0.0.1", "db-req.internal" = "127.0.0.1", "db-untrusted.internal" = "127.0.0.1" }
  forward "pg" {
    listen  = "127.0.0.1:${ports.db}"
    to      = "db.internal:${pg.port}"
    profile = "agents"
    device  = "laptop"
  }
  forward "pgtls" {
    listen  = "127.0.0.1:${ports.tls}"
    to      = "localhost:${pg.port}"
    profile = "agents"
  }
  proxy {
    listen  = "127.0.0.1:${ports.socks}"
    profile = "viaproxy"
  }
  forward "pgbadca" {
    listen  = "127.0.0.1:${ports.badca}"
    to      = "db-untrusted.internal:${pg.port}"
    profile = "agents"
  }
  forward "pgreq" {
    listen  = "127.0.0.1:${ports.req}"
    to      = "db-req.internal:${pg.port}"
    profile = "agents"
  }
}
endpoint "postgres" "db" {
  host    = "db.internal:${pg.port}"
  sslmode = "disable"
}
endpoint "postgres" "db_tls" {
  host    = "localhost:${pg.port}"
  sslmode = "verify-full"
  ca_cert = "<<file:ca.pem>>"
}
endpoint "postgres" "db_untrusted" {
  host    = "db-untrusted.internal:${pg.port}"
  sslmode = "verify-full"
}
endpoint "postgres" "db_req" {
  host    = "db-req.internal:${pg.port}"
  sslmode = "require"
}
credential "postgres_credential" "app" {
  endpoints = [postgres.db, postgres.db_tls, postgres.db_req, postgres.db_untrusted]
  user      = "app"
}
credential "postgres_credential" "appmd5" {
  endpoint = postgres.db
  user     = "appmd5"
}
credential "postgres_credential" "appclear" {
  endpoint = postgres.db
  user     = "appclear"
}
credential "postgres_credential" "proxied" {
  endpoint = postgres.db
  user     = "app"
}
profile "agents" { credentials = [postgres_credential.app, postgres_credential.appmd5, postgres_credential.appclear] }
# Only postgres.db: flows by address (127.0.0.1:<port>) are unambiguous here.
profile "viaproxy" { credentials = [postgres_credential.proxied] }
${RULES}`;
  writeFileSync(join(dir, "gateway.hcl"), hcl);
  const gw = await startGateway({ configPath: join(dir, "gateway.hcl"), log: createLogger({ level: process.env.CLAWPATROL_TEST_LOG ? "debug" : "error" }), watch: false });
  // Secrets go into the gateway's store, never into this process's environment (which the clients inherit from).
  for (const [name, pw] of Object.entries(PASSWORDS)) gw.store.secrets.set(name, "secret", pw);
  gw.store.secrets.set("proxied", "secret", PASSWORDS.app);
  return {
    pg,
    gw,
    ports,
    dir,
    async close() {
      await gw.close(1000);
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The agent's environment: no PG* or CLAWPATROL_* variables from this process, a placeholder password. */
export function agentEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG") && !k.startsWith("CLAWPATROL")) env[k] = v;
  return { ...env, PGPASSWORD: PLACEHOLDER, PGCONNECT_TIMEOUT: "10", PGSSLMODE: "disable", ...extra };
}

export type Ran = Captured;

/** Spawns a client as the agent would (its environment by default, see {@link agentEnv}). */
export function spawnClient(cmd: string, args: string[], opts: CaptureOptions = {}): Promise<Ran> {
  return spawnCapture(cmd, args, { ...opts, env: opts.env ?? agentEnv() });
}

/** psql against a gateway forward port as `user`, one `-c` per command, unaligned output. */
export function psql(port: number, user: string, commands: string[], env: Record<string, string> = {}, opts: Parameters<typeof spawnClient>[2] = {}): Promise<Ran> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", "appdb", "-X", "-A", "-t", "-w"];
  for (const c of commands) args.push("-c", c);
  return spawnClient("psql", args, { ...opts, env: agentEnv(env) });
}
