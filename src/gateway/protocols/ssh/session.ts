/**
 * One agent `session` channel: its requests (`pty-req`, `env`, `exec`,
 * `shell`, `subsystem`, `window-change`, `signal`) gated and relayed to an
 * upstream session channel that is opened only once the start request
 * (exec / shell / subsystem) was allowed.
 *
 * Why the start request is accepted *before* the verdict: the agent sends
 * stdin right behind `exec` without waiting for the reply (OpenSSH does),
 * and ssh2 drops channel data that arrives before the request is accepted.
 * So the channel is accepted at once and paused — its bytes stay in our
 * buffer, flow-controlled by the SSH window — and a deny then refuses the
 * channel: the reason on stderr, exit status 126, close. Nothing reaches
 * upstream before an allow.
 *
 * Why a `pty-req` is acknowledged at once and its verdict enforced at the
 * start request: SSH replies must come in request order and the exec
 * behind it cannot wait (above), so an `approve` on a pty cannot hold the
 * reply; and OpenSSH treats a refused pty under `-t` as fatal before
 * printing anything the server wrote, so the agent would never see the
 * reason. A denied pty therefore refuses the session's shell/exec with the
 * reason — which is also what a pty rule means: `ssh host` and
 * `ssh -t host bash` are both stopped before anything runs.
 *
 * With the stdin pre-gate on (./stdin.ts), a non-pty exec or shell's stdin
 * is captured before the decision and handed upstream only on allow.
 * `sftp` is not handled here specially: no sftp handler is registered with
 * ssh2, so the subsystem arrives raw and is gated like any other.
 */
import type { Client, ClientChannel, PseudoTtyInfo, ServerChannel, Session } from "ssh2";
import { SshFlags, STDIN_SAMPLE_BYTES, type ChannelRecord } from "./audit.js";
import type { AgentConnection } from "./conn.js";
import { buildSshAction, endpointReadsStdin, type GateOutcome, type StdinFacet } from "./gate.js";
import { channelOpen, ended, flushed, refuseChannel } from "./relay.js";
import { captureStdin, stdinText, type StdinCapture } from "./stdin.js";
import { UpstreamError } from "./upstream.js";

type StartVerb = "exec" | "shell" | "subsystem";
type Ack = (() => void) | undefined;

/** Env requests kept per session, and their sizes (the upstream's AcceptEnv filters further). */
const MAX_ENV = 64;
const MAX_ENV_VALUE = 4096;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

interface SessionState {
  pty: PseudoTtyInfo | undefined;
  ptyGate: Promise<GateOutcome> | undefined;
  env: Record<string, string>;
  upstream: ClientChannel | undefined;
  started: boolean;
}

/** Serves one accepted agent session channel. */
export function serveSession(conn: AgentConnection, session: Session): void {
  const st: SessionState = { pty: undefined, ptyGate: undefined, env: {}, upstream: undefined, started: false };
  session.on("error", () => {});

  session.on("pty", (accept: Ack, _reject: Ack, info: PseudoTtyInfo) => {
    if (st.started || st.pty) return accept?.();
    st.pty = info;
    accept?.();
    const rec = conn.record();
    const action = buildSshAction(conn.ctx, { verb: "pty" });
    st.ptyGate = conn.settle(action).then((o) => {
      rec.decided(action, o);
      conn.emit(rec);
      return o;
    });
  });

  session.on("env", (accept: Ack, _reject: Ack, info: { key: string; val: string }) => {
    if (!st.started && ENV_NAME.test(info.key) && info.val.length <= MAX_ENV_VALUE && (info.key in st.env || Object.keys(st.env).length < MAX_ENV)) {
      st.env[info.key] = info.val;
    }
    accept?.();
  });

  session.on("window-change", (accept: Ack, _reject: Ack, info: { rows: number; cols: number; height: number; width: number }) => {
    if (st.upstream) st.upstream.setWindow(info.rows, info.cols, info.height, info.width);
    else if (st.pty) st.pty = { ...st.pty, rows: info.rows, cols: info.cols, height: info.height, width: info.width };
    accept?.();
  });

  session.on("signal", (accept: Ack, _reject: Ack, info: { name: string }) => {
    try {
      st.upstream?.signal(info.name);
    } catch {
      // ssh2 refuses names outside RFC 4254's list; such a signal is dropped.
    }
    accept?.();
  });

  const start = (verb: StartVerb, accept: () => ServerChannel | undefined, facets: { command?: string; subsystem?: string }) => {
    const ch = accept();
    if (!ch) return;
    st.started = true;
    ch.pause();
    ch.on("error", (e: Error) => conn.deps.log.debug("agent channel error", { flow: conn.ctx.flow.id, error: e.message }));
    runChannel(conn, st, ch, verb, facets).catch((e: unknown) => {
      conn.deps.log.error("ssh channel failed", { flow: conn.ctx.flow.id, error: e instanceof Error ? e.message : String(e) });
      refuseChannel(ch, "internal error; refused", st.pty !== undefined);
    });
  };
  session.on("exec", (accept: () => ServerChannel, _reject: Ack, info: { command: string }) => start("exec", accept, { command: info.command }));
  session.on("shell", (accept: () => ServerChannel) => start("shell", accept, {}));
  session.on("subsystem", (accept: () => ServerChannel, _reject: Ack, info: { name: string }) => start("subsystem", accept, { subsystem: info.name }));
}

/** Gate, dial, relay, audit — one started channel. */
async function runChannel(conn: AgentConnection, st: SessionState, ch: ServerChannel, verb: StartVerb, facets: { command?: string; subsystem?: string }): Promise<void> {
  const { ctx, limits, deps } = conn;
  const crlf = st.pty !== undefined;
  const rec = conn.record();
  const channelGone = new AbortController();
  ch.once("close", () => channelGone.abort());
  const onConnGone = () => channelGone.abort();
  conn.signal.addEventListener("abort", onConnGone, { once: true });
  try {
    if (st.ptyGate) {
      const p = await st.ptyGate;
      if (!p.allow) {
        rec.decided(buildSshAction(ctx, { verb, ...facets }), p);
        rec.flags.add(SshFlags.ptyDenied);
        refuseChannel(ch, `terminal (pty) denied: ${p.reason}`, crlf);
        return;
      }
    }

    let pre: StdinCapture | undefined;
    let stdin: StdinFacet | undefined;
    if (verb !== "subsystem" && !st.pty && endpointReadsStdin(ctx.endpoint)) {
      pre = await captureStdin(ch, { maxBytes: limits.stdinBuffer, idleMs: limits.stdinIdleMs, totalMs: limits.stdinTotalMs });
      stdin = { text: stdinText(pre, limits.stdinBuffer), truncated: !pre.complete };
      rec.flags.add(SshFlags.stdinPregated);
      rec.stdinSample = Buffer.concat(pre.chunks).subarray(0, STDIN_SAMPLE_BYTES);
    }
    const action = buildSshAction(ctx, { verb, ...facets }, stdin);
    const outcome = await conn.settle(action, channelGone.signal);
    rec.decided(action, outcome);
    if (!outcome.allow) {
      refuseChannel(ch, `${verb} denied: ${outcome.reason}`, crlf);
      return;
    }
    if (!channelOpen(ch) || pre?.end === "closed") {
      rec.failed("agent closed the channel before it started", SshFlags.clientDisconnected);
      return;
    }

    let up;
    try {
      up = await conn.upstreamFor(outcome.credential);
    } catch (e) {
      const msg = e instanceof UpstreamError ? e.message : "upstream connection failed";
      rec.failed(msg, e instanceof UpstreamError && e.kind === "hostkey" ? SshFlags.hostKeyMismatch : SshFlags.upstreamError);
      deps.log.warn("ssh upstream unavailable", { flow: ctx.flow.id, endpoint: ctx.endpoint.key, reason: msg });
      refuseChannel(ch, `upstream unavailable: ${msg}`, crlf);
      return;
    }
    let upCh: ClientChannel;
    try {
      upCh = await openUpstream(up.client, verb, facets, st);
    } catch (e) {
      const msg = `upstream refused the ${verb}: ${e instanceof Error ? e.message : String(e)}`;
      rec.failed(msg);
      refuseChannel(ch, msg, crlf);
      return;
    }
    st.upstream = upCh;
    await relaySession(ch, upCh, rec, pre);
  } finally {
    conn.signal.removeEventListener("abort", onConnGone);
    conn.emit(rec);
  }
}

/** Opens the upstream side of an allowed start request, replaying the session's pty and env. */
function openUpstream(client: Client, verb: StartVerb, facets: { command?: string; subsystem?: string }, st: SessionState): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
    const pty = st.pty ? { rows: st.pty.rows, cols: st.pty.cols, height: st.pty.height, width: st.pty.width, term: st.pty.term, modes: st.pty.modes ?? {} } : undefined;
    const env = Object.keys(st.env).length > 0 ? { env: st.env } : {};
    try {
      if (verb === "exec") client.exec(facets.command ?? "", { ...env, ...(pty ? { pty } : {}) }, cb);
      else if (verb === "shell") client.shell(pty ?? false, env, cb);
      else client.subsys(facets.subsystem ?? "", cb);
    } catch (e) {
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}

/**
 * Relays an allowed session until the upstream closes it: stdin (the
 * pre-gated bytes first) up, stdout and stderr down, EOF both ways, then
 * the exit status or signal, then close. An agent that closes first closes
 * the upstream channel.
 */
async function relaySession(ch: ServerChannel, up: ClientChannel, rec: ChannelRecord, pre: StdinCapture | undefined): Promise<void> {
  up.on("error", () => {});
  up.stderr.on("error", () => {});
  ch.stderr.on("error", () => {});
  up.on("exit", (code: number | null, signal?: string, dump?: boolean, desc?: string) => {
    if (typeof code === "number") rec.exitStatus = code;
    else if (typeof signal === "string") {
      rec.exitSignal = signal;
      rec.exitCoreDumped = dump === true;
      rec.exitMessage = typeof desc === "string" ? desc : "";
    }
  });
  ch.once("close", () => up.close());

  // agent → upstream
  if (pre) {
    for (const c of pre.chunks) {
      up.write(c);
      rec.bytesIn += c.length;
    }
  }
  if (pre?.complete) up.end();
  else {
    ch.on("data", (d: Buffer) => (rec.bytesIn += d.length));
    ch.pipe(up);
  }
  // upstream → agent
  up.on("data", (d: Buffer) => (rec.bytesOut += d.length));
  up.stderr.on("data", (d: Buffer) => (rec.bytesOut += d.length));
  up.pipe(ch, { end: false });
  up.stderr.pipe(ch.stderr, { end: false });

  await new Promise<void>((resolve) => up.once("close", () => resolve()));
  await Promise.all([ended(up), ended(up.stderr)]);
  await flushed(ch.stderr, ch);
  await flushed(ch, ch);
  if (!channelOpen(ch)) return;
  try {
    if (rec.exitStatus !== null) ch.exit(rec.exitStatus);
    else if (rec.exitSignal !== undefined) ch.exit(rec.exitSignal.replace(/^SIG/, ""), rec.exitCoreDumped, rec.exitMessage);
  } catch {
    // An upstream signal name ssh2 will not encode: close without an exit message.
  }
  ch.end();
}
