/**
 * The upstream hop: dial the real Postgres server, negotiate TLS per the
 * endpoint's `sslmode` (libpq's meanings), send the StartupMessage and
 * answer its authentication challenge — SCRAM-SHA-256, MD5 or cleartext —
 * with the credential's password. The session starts on the first
 * ReadyForQuery; the ParameterStatus messages and the backend key seen on
 * the way are handed back so the agent gets the server's real parameters.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { connectFast, whenConnected } from "../../fast-socket.js";
import { MessageStream } from "./conn.js";
import { md5Password, SCRAM_SHA_256, ScramClient } from "./scram.js";
import {
  BodyReader,
  cancelRequest,
  cstr,
  int32,
  message,
  parseErrorFields,
  ProtocolError,
  sslRequest,
  startupMessage,
  type TxStatus,
} from "./wire.js";

/** libpq sslmode values the endpoint accepts. */
export type SslMode = "disable" | "prefer" | "require" | "verify-full";

export interface UpstreamTarget {
  /** Address to dial (already resolved). */
  address: string;
  port: number;
  /** The name the certificate must carry under `verify-full`. */
  servername: string;
  sslmode: SslMode;
  /** Trust anchors for `verify-full` (system roots when absent). */
  caPem?: string;
  connectTimeoutMs: number;
}

/** Why the upstream session could not start; `message` is safe to show the agent. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** SQLSTATE to answer the agent with. */
    readonly code: string,
  ) {
    super(message);
  }
}

/** A logged-in upstream session, ready for queries. */
export interface UpstreamSession {
  socket: Socket | TLSSocket;
  /** ParameterStatus frames (complete, with headers) to replay to the agent. */
  parameterFrames: Buffer[];
  /** NoticeResponse frames seen during startup. */
  noticeFrames: Buffer[];
  /** The server's cancel key for this backend. */
  backendKey?: { pid: number; secret: number };
  txStatus: TxStatus;
  /** Bytes read after the first ReadyForQuery (normally none). */
  leftover: Buffer;
  tls: boolean;
}

const MAX_AUTH_FRAME = 64 * 1024;

/** Dials `target` and upgrades to TLS as `sslmode` says. */
async function dial(target: UpstreamTarget): Promise<{ socket: Socket | TLSSocket; tls: boolean }> {
  // Plain TCP for good: reads from a reused buffer, cheaper per statement (see ../../fast-socket.ts).
  if (target.sslmode === "disable") return { socket: await connectFast(target.address, target.port, target.connectTimeoutMs), tls: false };
  const socket = await whenConnected(netConnect({ host: target.address, port: target.port }), target.connectTimeoutMs);
  socket.setNoDelay(true);
  socket.write(sslRequest());
  const answer = await readOneByte(socket, target.connectTimeoutMs);
  if (answer === "N") {
    if (target.sslmode === "prefer") return { socket, tls: false };
    socket.destroy();
    throw new UpstreamError(`the upstream server does not offer TLS (endpoint sslmode = "${target.sslmode}")`, "08001");
  }
  if (answer !== "S") {
    socket.destroy();
    throw new UpstreamError("the upstream server answered the TLS request with an invalid response", "08P01");
  }
  const verify = target.sslmode === "verify-full";
  const opts: ConnectionOptions = {
    socket,
    servername: isIp(target.servername) ? undefined : target.servername,
    rejectUnauthorized: verify,
    ...(verify && target.caPem ? { ca: target.caPem } : {}),
    ...(verify ? {} : { checkServerIdentity: () => undefined }),
  };
  const tls = await new Promise<TLSSocket>((resolve, reject) => {
    const t = tlsConnect(opts, () => {
      t.off("error", reject);
      resolve(t);
    });
    t.once("error", reject);
  }).catch((e: Error) => {
    socket.destroy();
    throw new UpstreamError(`TLS to the upstream server failed: ${e.message}`, "08001");
  });
  tls.setNoDelay?.(true);
  return { socket: tls, tls: true };
}

function isIp(s: string): boolean {
  return /^[\d.]+$/.test(s) || s.includes(":");
}

/**
 * Reads exactly the one-byte answer to an SSLRequest. A server that sends
 * more before the TLS handshake is refused: those bytes would be injected
 * plaintext (the CVE-2021-23222 class of bug).
 */
function readOneByte(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(new UpstreamError("the upstream server did not answer the TLS request", "08001")), timeoutMs);
    const onData = (chunk: Buffer) => {
      if (chunk.length !== 1) return done(new UpstreamError("the upstream server sent unexpected bytes before TLS", "08P01"));
      done(undefined, String.fromCharCode(chunk[0]!));
    };
    const onEnd = () => done(new UpstreamError("the upstream server closed the connection", "08006"));
    const done = (err?: Error, v?: string) => {
      clearTimeout(t);
      socket.off("data", onData);
      socket.off("error", onEnd);
      socket.off("close", onEnd);
      socket.pause();
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(v!);
    };
    socket.on("data", onData);
    socket.once("error", onEnd);
    socket.once("close", onEnd);
  });
}

/**
 * Opens an authenticated session as `params.user` on `params.database`
 * (plus the other startup parameters given). `password` is called only if
 * the server asks for one — a `trust` upstream never reads the secret.
 */
export async function openUpstream(
  target: UpstreamTarget,
  params: ReadonlyMap<string, string>,
  password: () => string | undefined,
): Promise<UpstreamSession> {
  let dialed;
  try {
    dialed = await dial(target);
  } catch (e) {
    if (e instanceof UpstreamError) throw e;
    throw new UpstreamError(`cannot reach the upstream server: ${(e as Error).message}`, "08001");
  }
  const { socket, tls } = dialed;
  const ms = new MessageStream(socket, MAX_AUTH_FRAME);
  try {
    socket.write(startupMessage(params));
    await authenticate(socket, ms, params.get("user") ?? "", password, target.connectTimeoutMs);
    const parameterFrames: Buffer[] = [];
    const noticeFrames: Buffer[] = [];
    let backendKey: UpstreamSession["backendKey"];
    for (;;) {
      const f = await ms.next(target.connectTimeoutMs);
      const whole = message(f.type, f.body);
      if (f.type === "S") parameterFrames.push(whole);
      else if (f.type === "N") noticeFrames.push(whole);
      else if (f.type === "K") {
        const r = new BodyReader(f.body);
        backendKey = { pid: r.int32(), secret: r.int32() };
      } else if (f.type === "E") throw upstreamFatal(f.body);
      else if (f.type === "Z") {
        const status = f.body.toString("latin1", 0, 1) as TxStatus;
        return { socket, parameterFrames, noticeFrames, ...(backendKey ? { backendKey } : {}), txStatus: status, leftover: ms.detach(), tls };
      } else throw new UpstreamError(`unexpected message ${JSON.stringify(f.type)} from the upstream server during startup`, "08P01");
    }
  } catch (e) {
    ms.detach();
    socket.destroy();
    if (e instanceof UpstreamError) throw e;
    throw new UpstreamError(`upstream startup failed: ${(e as Error).message}`, "08006");
  }
}

/** Answers the server's authentication requests until AuthenticationOk. */
async function authenticate(socket: Socket, ms: MessageStream, user: string, password: () => string | undefined, timeoutMs: number): Promise<void> {
  let scram: ScramClient | undefined;
  const secret = (): string => {
    const p = password();
    if (p === undefined || p === "") throw new UpstreamError("the gateway has no password for this credential (the upstream server asked for one)", "28P01");
    return p;
  };
  for (;;) {
    const f = await ms.next(timeoutMs);
    if (f.type === "E") throw upstreamFatal(f.body);
    if (f.type === "N") continue;
    if (f.type !== "R") throw new UpstreamError(`unexpected message ${JSON.stringify(f.type)} from the upstream server during authentication`, "08P01");
    const r = new BodyReader(f.body);
    const kind = r.int32();
    switch (kind) {
      case 0: // AuthenticationOk
        return;
      case 3: // CleartextPassword
        socket.write(message("p", secret()));
        break;
      case 5: // MD5Password
        socket.write(message("p", md5Password(user, secret(), r.bytes(4))));
        break;
      case 10: {
        // SASL: a list of mechanisms
        const mechanisms: string[] = [];
        for (;;) {
          const m = r.cstring();
          if (m === "") break;
          mechanisms.push(m);
        }
        if (!mechanisms.includes(SCRAM_SHA_256)) {
          throw new UpstreamError(`the upstream server offers no SASL mechanism the gateway speaks (${mechanisms.join(", ")})`, "28000");
        }
        scram = new ScramClient(secret());
        const first = Buffer.from(scram.clientFirst());
        socket.write(message("p", cstr(SCRAM_SHA_256), int32(first.length), first));
        break;
      }
      case 11: // SASLContinue
        if (!scram) throw new UpstreamError("SASL continuation without a SASL exchange", "08P01");
        socket.write(message("p", Buffer.from(await scram.clientFinal(r.bytes(r.remaining).toString("utf8")))));
        break;
      case 12: // SASLFinal
        if (!scram) throw new UpstreamError("SASL final without a SASL exchange", "08P01");
        try {
          scram.verifyServerFinal(r.bytes(r.remaining).toString("utf8"));
        } catch (e) {
          throw new UpstreamError(`the upstream server failed SCRAM verification: ${(e as Error).message}`, "28000");
        }
        break;
      default:
        throw new UpstreamError(`the upstream server asked for an authentication method the gateway does not speak (code ${kind})`, "28000");
    }
  }
}

/** An upstream ErrorResponse during startup, as an error safe to show (the server's own words). */
function upstreamFatal(body: Buffer): UpstreamError {
  let fields: Map<string, string>;
  try {
    fields = parseErrorFields(body);
  } catch {
    return new UpstreamError("the upstream server refused the connection", "08006");
  }
  return new UpstreamError(`upstream: ${fields.get("M") ?? "connection refused"}`, fields.get("C") ?? "08006");
}

/**
 * Sends a CancelRequest for an upstream backend on a fresh connection (TLS
 * negotiated as for the session), then closes it; Postgres answers nothing.
 */
export async function sendCancel(target: UpstreamTarget, key: { pid: number; secret: number }): Promise<void> {
  const { socket } = await dial(target);
  await new Promise<void>((resolve) => {
    socket.end(cancelRequest(key.pid, key.secret), () => resolve());
    socket.once("error", () => resolve());
  });
  socket.destroy();
}
