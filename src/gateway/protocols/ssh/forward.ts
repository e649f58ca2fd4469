/**
 * `direct-tcpip` channels (`ssh -L`, `ssh -W`, `-J` through the gateway):
 * each is a `forward` action with the target host and port. Unlike a
 * session, a channel open can wait for its verdict (no data flows before
 * the confirmation), so a deny is a real open failure — "administratively
 * prohibited" with the reason as its description, which OpenSSH prints
 * (`channel 2: open failed: administratively prohibited: <reason>`). The
 * connection and its other channels carry on.
 */
import type { AcceptConnection, ClientChannel, Connection, ServerChannel, TcpipRequestInfo } from "ssh2";
import { SshFlags } from "./audit.js";
import type { AgentConnection } from "./conn.js";
import { buildSshAction } from "./gate.js";
import { channelOpen, flushed } from "./relay.js";
import { UpstreamError } from "./upstream.js";

/** RFC 4254 §5.1 reason code. */
const ADMINISTRATIVELY_PROHIBITED = 1;

interface OpenFailProtocol {
  channelOpenFail(recipient: number, reason: number, desc: string): void;
}

/**
 * Rejects a channel open with `message` as the description. ssh2's public
 * `reject()` sends an empty description; this wraps the connection's
 * protocol object for the duration of that one call (ssh2 1.17 internals,
 * checked at runtime — without them it degrades to the plain reject).
 */
export function rejectOpen(agent: Connection | undefined, reject: () => void, message: string): void {
  const proto = (agent as unknown as { _protocol?: Partial<OpenFailProtocol> } | undefined)?._protocol;
  const original = proto?.channelOpenFail;
  if (!proto || typeof original !== "function") return reject();
  const own = Object.hasOwn(proto, "channelOpenFail");
  const desc = message.replace(/[\r\n]+/g, " ").slice(0, 512);
  proto.channelOpenFail = function (this: unknown, recipient: number) {
    return original.call(this, recipient, ADMINISTRATIVELY_PROHIBITED, desc);
  };
  try {
    reject();
  } finally {
    if (own) proto.channelOpenFail = original;
    else delete proto.channelOpenFail;
  }
}

/** Gates, dials and relays one direct-tcpip channel. */
export function serveDirectTcpip(conn: AgentConnection, accept: AcceptConnection<ServerChannel>, reject: () => void, info: TcpipRequestInfo): void {
  const rec = conn.record();
  const action = buildSshAction(conn.ctx, { verb: "forward", forward_host: info.destIP, forward_port: info.destPort });
  const run = async () => {
    const outcome = await conn.settle(action);
    rec.decided(action, outcome);
    if (!outcome.allow) {
      rejectOpen(conn.agent, reject, `denied: ${outcome.reason}`);
      conn.emit(rec);
      return;
    }
    let up;
    try {
      up = await conn.upstreamFor(outcome.credential);
    } catch (e) {
      const msg = e instanceof UpstreamError ? e.message : "upstream connection failed";
      rec.failed(msg, e instanceof UpstreamError && e.kind === "hostkey" ? SshFlags.hostKeyMismatch : SshFlags.upstreamError);
      rejectOpen(conn.agent, reject, `upstream unavailable: ${msg}`);
      conn.emit(rec);
      return;
    }
    const upCh = await new Promise<ClientChannel | Error>((resolve) => {
      try {
        up.client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, ch) => resolve(err ?? ch));
      } catch (e) {
        resolve(e instanceof Error ? e : new Error(String(e)));
      }
    });
    if (upCh instanceof Error) {
      rec.failed(`upstream could not open the forward: ${upCh.message}`);
      rejectOpen(conn.agent, reject, rec.reason);
      conn.emit(rec);
      return;
    }
    if (conn.closed) {
      upCh.close();
      rec.failed("agent went away before the forward opened", SshFlags.clientDisconnected);
      conn.emit(rec);
      return;
    }
    const ch = accept();
    relayForward(ch, upCh, rec, () => conn.emit(rec));
  };
  run().catch((e: unknown) => {
    conn.deps.log.error("ssh forward failed", { flow: conn.ctx.flow.id, error: e instanceof Error ? e.message : String(e) });
    rec.failed("internal error");
    rejectOpen(conn.agent, reject, "internal error; refused");
    conn.emit(rec);
  });
}

/** Pipes a forward both ways with half-close, counting bytes; `done` once both sides closed. */
function relayForward(ch: ServerChannel, up: ClientChannel, rec: import("./audit.js").ChannelRecord, done: () => void): void {
  ch.on("error", () => {});
  up.on("error", () => {});
  ch.on("data", (d: Buffer) => (rec.bytesIn += d.length));
  up.on("data", (d: Buffer) => (rec.bytesOut += d.length));
  ch.pipe(up);
  up.pipe(ch, { end: false });
  // Upstream EOF: our EOF toward the agent once the data before it left (ssh2's end() would also close).
  up.once("end", () => void flushed(ch, ch).then(() => channelOpen(ch) && ch.eof()));
  let closes = 0;
  const closed = () => {
    if (++closes === 2) done();
  };
  up.once("close", () => {
    void flushed(ch, ch).then(() => ch.end());
    closed();
  });
  ch.once("close", () => {
    up.close();
    closed();
  });
}
