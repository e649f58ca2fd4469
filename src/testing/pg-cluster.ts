/**
 * Throwaway real PostgreSQL 15 clusters (and PgBouncer in front of them) for
 * test suites and benchmarks. The gateway's Postgres support has to be proven
 * against the real wire protocol, real auth exchanges (SCRAM, MD5, cleartext)
 * and real TLS, which no in-process fake reproduces faithfully.
 *
 * Everything lives in a fresh temp dir owned by the `postgres` OS user (initdb
 * and pgbouncer refuse to run as root); the server listens on 127.0.0.1 only,
 * with durability switched off for speed. All child processes are spawned
 * asynchronously: callers typically run a gateway in the same process, and a
 * blocking spawnSync would deadlock a client that talks through it.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.js";

/** Where Debian's postgresql-15 package puts the server binaries (not on PATH). */
/** The server binaries: `CLAWPATROL_PG_BIN`, else the newest Debian-packaged major version. */
const PG_BIN = process.env.CLAWPATROL_PG_BIN ?? newestPgBin("/usr/lib/postgresql");

function newestPgBin(root: string): string {
  try {
    const majors = readdirSync(root)
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    for (const m of majors) if (existsSync(`${root}/${m}/bin/initdb`)) return `${root}/${m}/bin`;
  } catch {
    /* not installed: pgToolsMissing reports the paths */
  }
  return `${root}/15/bin`;
}
const INITDB = join(PG_BIN, "initdb");
const PG_CTL = join(PG_BIN, "pg_ctl");
const POSTGRES = join(PG_BIN, "postgres");
const PSQL = "/usr/bin/psql";
const PGBENCH = "/usr/bin/pgbench";
const PGBOUNCER = "/usr/sbin/pgbouncer";
const OPENSSL = "/usr/bin/openssl";
const OS_USER = "postgres";

/** A running throwaway cluster; call `stop()` when done (an exit hook also kills it if you forget). */
export interface PgCluster {
  /** Always "127.0.0.1": the server listens on loopback IPv4 only, never on a public interface. */
  host: string;
  /** A port that was free at startup (retried if another process raced us for it). */
  port: number;
  /** Superuser role "postgres" with this password (scram). Random per cluster so nothing is guessable. */
  superPassword: string;
  /** PEM of the self-signed CA that signed the server cert when ssl was requested (CN/SAN = localhost and 127.0.0.1), for sslmode=verify-full clients. */
  caPem?: string;
  /** The temp dir holding the data dir, socket, certs and log; removed by `stop()` (exposed so tests can check that). */
  dir: string;
  /** The server log file (inside `dir`), for diagnosing failures in callers' tests. */
  logFile: string;
  /** Runs SQL as the superuser through psql (async spawn, never spawnSync — callers run an in-process gateway). Returns stdout (-At output). Throws with stderr on failure. */
  sql(query: string, opts?: { database?: string }): Promise<string>;
  /**
   * Connection env for libpq clients (psql, pgbench, …) going direct over TCP:
   * PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE (and
   * PGSSLROOTCERT when given), on top of `process.env` with any inherited PG*
   * variables removed so the caller's shell cannot leak into the test.
   * Defaults to the superuser, database "postgres", sslmode "disable".
   */
  env(opts?: { user?: string; password?: string; database?: string; sslmode?: string; sslrootcert?: string }): NodeJS.ProcessEnv;
  /** pg_ctl stop -m immediate (no checkpoint: the data is throwaway), then rm -rf the dir. Idempotent. */
  stop(): Promise<void>;
}

/** A login role to create; `auth` is the pg_hba method used for it on 127.0.0.1, so each auth exchange can be tested for real. */
export interface PgRole {
  name: string;
  password: string;
  auth: "scram-sha-256" | "md5" | "password";
}

/** A PgBouncer started by `startPgBouncer`. */
export interface PgBouncer {
  host: string;
  port: number;
  /** SIGINT (then SIGKILL after 3 s), then removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Reason to skip when the PostgreSQL tooling is not installed, else false.
 * Like `clientMissing` in test/gateway-acceptance-kit.ts: in CI (process.env.CI
 * set) a missing tool is an error — a silently skipped database suite would
 * look green while proving nothing. Synchronous and spawn-free (only checks
 * the files and the OS user), so it is cheap at module load.
 */
export function pgToolsMissing(): string | false {
  const missing: string[] = [];
  for (const bin of [INITDB, PG_CTL, POSTGRES, PSQL, PGBENCH, PGBOUNCER, OPENSSL]) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      missing.push(bin);
    }
  }
  if (!osUser()) missing.push(`OS user "${OS_USER}"`);
  if (process.platform !== "linux") missing.push("linux");
  if (missing.length === 0) return false;
  const reason = `PostgreSQL tooling not available: ${missing.join(", ")}`;
  if (process.env.CI) throw new Error(`${reason} (required in CI)`);
  return reason;
}

/**
 * Starts a fresh cluster: initdb, config, optional TLS, roles and databases.
 * Typically 1–3 s. Roles are granted ALL on every listed database and on its
 * schema public (PG15 no longer lets PUBLIC create there); with no databases
 * listed the grants go to database "postgres".
 */
export async function startPgCluster(
  opts: { ssl?: boolean; roles?: PgRole[]; databases?: string[]; maxConnections?: number } = {},
): Promise<PgCluster> {
  const ids = osUser();
  if (!ids) throw new Error(`OS user "${OS_USER}" not found`);
  const dir = await ownedTempDir("clawpatrol-pg-", ids);
  const exitHook = () => killClusterSync(dir);
  process.on("exit", exitHook);
  try {
    return await setUp(dir, ids, opts, exitHook);
  } catch (err) {
    process.off("exit", exitHook);
    killClusterSync(dir);
    throw err;
  }
}

async function setUp(
  dir: string,
  ids: Ids,
  opts: { ssl?: boolean; roles?: PgRole[]; databases?: string[]; maxConnections?: number },
  exitHook: () => void,
): Promise<PgCluster> {
  const data = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  const superPassword = randomBytes(18).toString("base64url");
  const roles = opts.roles ?? [];
  for (const r of roles) {
    if (r.name === "postgres") throw new Error(`role "postgres" is the superuser; pick another name`);
    if (/[\s"]/.test(r.name) || r.name === "") throw new Error(`role name ${JSON.stringify(r.name)} is not supported`);
  }

  const pwfile = join(dir, "pwfile");
  await writeOwned(pwfile, superPassword + "\n", ids, 0o600);
  const asPg = { uid: ids.uid, gid: ids.gid, cwd: dir };
  await exec(
    INITDB,
    ["-D", data, "-U", "postgres", `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
    asPg,
  );
  await rm(pwfile, { force: true });

  let caPem: string | undefined;
  const conf: string[] = [
    "",
    "# --- clawpatrol throwaway test cluster ---",
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    "password_encryption = 'scram-sha-256'",
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    `max_connections = ${opts.maxConnections ?? 100}`,
    "log_min_messages = warning",
    "log_connections = off",
  ];
  if (opts.ssl) {
    caPem = await makeCerts(dir, ids);
    conf.push("ssl = on", `ssl_cert_file = '${join(dir, "server.crt")}'`, `ssl_key_file = '${join(dir, "server.key")}'`);
  }
  const confPath = join(data, "postgresql.conf");
  await writeOwned(confPath, (await readFile(confPath, "utf8")) + conf.join("\n") + "\n", ids, 0o600);

  // First match wins. Local socket: trust, for setup via psql. TCP: one line
  // per role with its own method, the superuser with SCRAM, and a SCRAM
  // catch-all for roles callers create later. `host` (not `hostssl`) so both
  // plain and TLS connections are accepted.
  const hba = [
    "# TYPE  DATABASE  USER  ADDRESS  METHOD",
    "local all postgres trust",
    ...roles.map((r) => `host all "${r.name}" 127.0.0.1/32 ${r.auth}`),
    "host all postgres 127.0.0.1/32 scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
  ];
  await writeOwned(join(data, "pg_hba.conf"), hba.join("\n") + "\n", ids, 0o600);

  // freePort is racy: if the port got taken before postgres bound it, retry.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await exec(PG_CTL, ["-D", data, "-l", logFile, "-w", "-t", "30", "-o", `-p ${port}`, "start"], asPg);
      break;
    } catch (err) {
      const log = await tail(logFile);
      if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
      throw new Error(`${(err as Error).message}\n--- postgres log tail ---\n${log}`);
    }
  }

  let stopped = false;
  const cluster: PgCluster = {
    host: "127.0.0.1",
    port,
    superPassword,
    ...(caPem !== undefined ? { caPem } : {}),
    dir,
    logFile,
    sql: async (query, o = {}) => {
      const out = await exec(PSQL, ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", dir, "-p", String(port), "-U", "postgres", "-d", o.database ?? "postgres", "-f", "-"], { env: cleanEnv(), input: query });
      return out.replace(/\n$/, "");
    },
    env: (o = {}) => {
      const env = cleanEnv();
      env.PGHOST = "127.0.0.1";
      env.PGPORT = String(port);
      env.PGUSER = o.user ?? "postgres";
      env.PGPASSWORD = o.password ?? (o.user === undefined || o.user === "postgres" ? superPassword : "");
      env.PGDATABASE = o.database ?? "postgres";
      env.PGSSLMODE = o.sslmode ?? "disable";
      if (o.sslrootcert) env.PGSSLROOTCERT = o.sslrootcert;
      env.PGCONNECT_TIMEOUT = "10";
      return env;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      process.off("exit", exitHook);
      try {
        await exec(PG_CTL, ["-D", data, "-m", "immediate", "-w", "-t", "10", "stop"], asPg);
      } catch {
        killClusterSync(dir); // e.g. postmaster already gone, or pg_ctl hung
      }
      await rm(dir, { recursive: true, force: true });
    },
  };

  const dbs = opts.databases ?? [];
  let setup = "";
  for (const db of dbs) setup += `CREATE DATABASE ${ident(db)};\n`;
  for (const r of roles) {
    // md5 auth only really happens when the stored verifier is md5 (otherwise
    // the server silently upgrades the exchange to SCRAM).
    setup += `SET password_encryption = '${r.auth === "md5" ? "md5" : "scram-sha-256"}';\n`;
    setup += `CREATE ROLE ${ident(r.name)} LOGIN PASSWORD ${literal(r.password)};\n`;
  }
  if (setup) await cluster.sql(setup);
  if (roles.length > 0) {
    for (const db of dbs.length > 0 ? dbs : ["postgres"]) {
      const grants = roles
        .map((r) => `GRANT ALL ON DATABASE ${ident(db)} TO ${ident(r.name)};\nGRANT ALL ON SCHEMA public TO ${ident(r.name)};\n`)
        .join("");
      await cluster.sql(grants, { database: db });
    }
  }
  return cluster;
}

/**
 * Starts PgBouncer in front of `upstream` for one user/database, in the
 * foreground as the postgres OS user (it refuses root), so the process is
 * ours to kill. Clients authenticate to PgBouncer with the same user and
 * password (SCRAM by default, or cleartext with authType "plain"); the
 * auth_file holds the password in plain text, which PgBouncer also needs to
 * log in upstream with SCRAM. Resolves once it accepts TCP connections.
 */
export async function startPgBouncer(
  upstream: { host: string; port: number },
  opts: { user: string; password: string; database: string; poolMode?: "session" | "transaction"; poolSize?: number; authType?: "scram-sha-256" | "plain" },
): Promise<PgBouncer> {
  const ids = osUser();
  if (!ids) throw new Error(`OS user "${OS_USER}" not found`);
  const dir = await ownedTempDir("clawpatrol-pgbouncer-", ids);
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const authFile = join(dir, "userlist.txt");
  await writeOwned(authFile, `${quote(opts.user)} ${quote(opts.password)}\n`, ids, 0o600);
  const port = await freePort();
  const ini = [
    "[databases]",
    `${opts.database} = host=${upstream.host} port=${upstream.port} dbname=${opts.database}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    `auth_type = ${opts.authType ?? "scram-sha-256"}`,
    `auth_file = ${authFile}`,
    `pool_mode = ${opts.poolMode ?? "transaction"}`,
    `default_pool_size = ${opts.poolSize ?? 16}`,
    "max_client_conn = 200",
    "ignore_startup_parameters = extra_float_digits,options",
    "server_tls_sslmode = disable",
    "log_connections = 0",
    "log_disconnections = 0",
    "",
  ].join("\n");
  const iniPath = join(dir, "pgbouncer.ini");
  await writeOwned(iniPath, ini, ids, 0o600);

  const child = spawn(PGBOUNCER, [iniPath], { uid: ids.uid, gid: ids.gid, cwd: dir, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let exited = false;
  const exitedP = new Promise<void>((res) => child.once("exit", () => ((exited = true), res())));
  child.once("error", (e) => collect(Buffer.from(String(e))));
  const exitHook = () => {
    if (!exited) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", exitHook);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", exitHook);
    if (!exited) {
      child.kill("SIGINT");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exitedP;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`pgbouncer exited during startup:\n${output}`);
    }
    if (await canConnect("127.0.0.1", port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pgbouncer did not accept connections within 10 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: "127.0.0.1", port, stop };
}

// --- helpers ---------------------------------------------------------------

interface Ids {
  uid: number;
  gid: number;
}

/** uid/gid of the postgres OS user from /etc/passwd (no spawn). */
function osUser(): Ids | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === OS_USER && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* not a Unix-like host */
  }
  return undefined;
}

/** mkdtemp under os.tmpdir(), chown to postgres, mode 0700 (initdb insists on a private dir). */
async function ownedTempDir(prefix: string, ids: Ids): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chown(dir, ids.uid, ids.gid);
  await chmod(dir, 0o700);
  return dir;
}

async function writeOwned(path: string, content: string, ids: Ids, mode: number): Promise<void> {
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  await chown(path, ids.uid, ids.gid);
}

/** Process env minus every inherited PG* variable, so e.g. a developer's PGSSLMODE cannot change what a test exercises. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PG")) env[k] = v;
  return env;
}

/** Async spawn; resolves stdout, rejects with the exit status and stderr. */
function exec(cmd: string, args: string[], o: { uid?: number; gid?: number; cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, {
      ...(o.uid !== undefined ? { uid: o.uid, gid: o.gid } : {}),
      ...(o.cwd ? { cwd: o.cwd } : {}),
      env: o.env ?? cleanEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => c.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${e.message}`));
    });
    c.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`));
    });
    c.stdin.on("error", () => {}); // EPIPE if the child dies before reading
    c.stdin.end(o.input ?? "");
  });
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, "utf8")).split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Last-resort cleanup from a process "exit" hook (must be synchronous):
 * SIGQUIT to the postmaster is an immediate shutdown, then remove the dir.
 */
function killClusterSync(dir: string): void {
  try {
    const pidFile = join(dir, "data", "postmaster.pid");
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      if (pid > 0) process.kill(pid, "SIGQUIT");
    }
  } catch {
    /* already gone */
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

/** CA + server cert (EC P-256: instant to generate) signed for localhost / 127.0.0.1; returns the CA PEM. */
async function makeCerts(dir: string, ids: Ids): Promise<string> {
  const caKey = join(dir, "ca.key");
  const caCrt = join(dir, "ca.crt");
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const crt = join(dir, "server.crt");
  const caCnf = join(dir, "ca.cnf");
  const extCnf = join(dir, "server-ext.cnf");
  // Own minimal configs so the system openssl.cnf cannot add or duplicate extensions.
  await writeFile(
    caCnf,
    [
      "[req]",
      "distinguished_name = dn",
      "x509_extensions = v3_ca",
      "prompt = no",
      "[dn]",
      "CN = clawpatrol throwaway test CA",
      "[v3_ca]",
      "basicConstraints = critical,CA:TRUE",
      "keyUsage = critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier = hash",
      "",
    ].join("\n"),
  );
  await writeFile(
    extCnf,
    [
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage = serverAuth",
      "subjectAltName = DNS:localhost,IP:127.0.0.1",
      "authorityKeyIdentifier = keyid",
      "",
    ].join("\n"),
  );
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await exec(OPENSSL, ["req", "-x509", ...ec, "-keyout", caKey, "-out", caCrt, "-days", "3", "-config", caCnf]);
  await exec(OPENSSL, ["req", "-new", ...ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost", "-config", caCnf]);
  await exec(OPENSSL, ["x509", "-req", "-in", csr, "-CA", caCrt, "-CAkey", caKey, "-set_serial", "0x" + randomBytes(8).toString("hex"), "-days", "3", "-out", crt, "-extfile", extCnf]);
  for (const f of [caKey, csr, caCnf, extCnf]) await rm(f, { force: true });
  await chown(key, ids.uid, ids.gid);
  await chmod(key, 0o600);
  await chown(crt, ids.uid, ids.gid);
  await chown(caCrt, ids.uid, ids.gid);
  return await readFile(caCrt, "utf8");
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
