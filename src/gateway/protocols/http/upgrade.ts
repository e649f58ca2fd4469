/**
 * Upgrade requests (WebSocket; `kubectl exec` / `attach` / `port-forward`
 * over WebSocket or SPDY): decided exactly like any request — k8s facets
 * for kubernetes endpoints, so `pods/exec` with `stdin=true` is a rule away
 * — then, on allow, the upstream connection is opened with the credential
 * injected in the request head and the two sockets are spliced.
 *
 * Inside the spliced stream nothing is inspected or redacted: it is framed
 * by the upgraded protocol (WebSocket frames, SPDY streams), and an upstream
 * echoing the injected credential inside it would reach the agent. The
 * upgrade request and the `101` head are redacted like any response. The
 * audit record is written when the splice ends.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { AuditFlags } from "./audit.js";
import { finishExchange, type ExchangeEnv } from "./exchange.js";
import { BodySample } from "./body.js";
import { pairsOf, sanitizeResponseHeaders, textResponseHead } from "./headers.js";
import type { InterceptEndpoint } from "./ports.js";
import { applyOutcome, buildAction, checkHead, newExchange, prepareOutbound, settle, type ConnContext } from "./request.js";
import { UPSTREAM_ERROR_BODY } from "./forward.js";
import { RedactingStream } from "./redact-stream.js";
import { redactString } from "./scrub.js";

/** Bytes an agent may send after its upgrade request before the answer (buffered, then forwarded). */
const EARLY_DATA_LIMIT = 64 * 1024;

const REASONS: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 421: "Misdirected Request", 502: "Bad Gateway" };

function writeRaw(socket: Duplex, status: number, body: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(textResponseHead(status, REASONS[status] ?? "Error", body, true) + body);
  // A peer that never reads must not keep the socket alive.
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** Handles one upgrade request on `socket` (already detached from the HTTP parser). Never rejects. */
export async function handleUpgrade<E extends InterceptEndpoint>(
  env: ExchangeEnv<E>,
  ctx: ConnContext<E>,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const { deps } = env;
  const state = newExchange(ctx, req, deps.now());
  state.flags.add(AuditFlags.upgrade);
  const gone = new AbortController();
  const early: Buffer[] = head.length > 0 ? [head] : [];
  let earlySize = head.length;
  const onEarly = (c: Buffer) => {
    early.push(c);
    earlySize += c.length;
    if (earlySize > EARLY_DATA_LIMIT) socket.destroy();
  };
  const onClose = () => gone.abort();
  socket.on("error", (e) => deps.log.debug("upgrade socket error", { flow: ctx.flow.id, code: (e as NodeJS.ErrnoException).code }));
  socket.once("close", onClose);
  // Keep reading while the decision is pending: a vanished agent must cancel an approval.
  socket.on("data", onEarly);
  (socket as { setTimeout?: (ms: number) => void }).setTimeout?.(0);
  const finish = () => finishExchange(env, state);
  // However the exchange ends, the record is written when the agent's socket closes.
  socket.once("close", finish);

  try {
    const problem = checkHead(ctx, req);
    if (problem) {
      state.reason = problem.reason;
      state.status = problem.status;
      writeRaw(socket, problem.status, problem.reason);
      return;
    }
    const action = buildAction(ctx, req, undefined, false);
    const outcome = await settle(deps, ctx, action, () => gone.signal);
    applyOutcome(state, action, outcome);
    if (gone.signal.aborted) {
      state.verdict = "deny";
      state.reason ||= "client disconnected before the decision";
      state.flags.add(AuditFlags.clientDisconnected);
      finish();
      return;
    }
    if (!outcome.allow) {
      state.status = 403;
      writeRaw(socket, 403, state.reason);
      return;
    }
    const prepared = await prepareOutbound(deps, ctx, req, state, true);
    const tls = prepared ? await deps.upstreamTls({ endpoint: ctx.endpoint, servername: ctx.upstream.host, ...(state.credential ? { credential: state.credential } : {}) }) : undefined;
    if (!prepared || !tls || gone.signal.aborted) {
      state.status = gone.signal.aborted ? null : 502;
      if (gone.signal.aborted) finish();
      else writeRaw(socket, 502, UPSTREAM_ERROR_BODY);
      return;
    }

    const up = env.pool.request({ host: ctx.upstream.host, port: ctx.upstream.port, tls, method: req.method ?? "GET", path: prepared.target, headers: prepared.headers });
    gone.signal.addEventListener("abort", () => up.destroy(), { once: true });
    up.on("error", (err) => {
      if (state.status !== null) return;
      state.status = 502;
      state.flags.add(AuditFlags.upstreamError);
      deps.log.warn("upstream upgrade failed", { flow: ctx.flow.id, host: ctx.upstream.host, code: (err as NodeJS.ErrnoException).code });
      writeRaw(socket, 502, UPSTREAM_ERROR_BODY);
    });

    up.on("upgrade", (upRes: IncomingMessage, upSock: Duplex, upHead: Buffer) => {
      try {
        splice(upRes, upSock, upHead);
      } catch (e) {
        deps.log.error("upgrade splice failed", { flow: ctx.flow.id, error: e instanceof Error ? e.name : "error" });
        upSock.destroy();
        socket.destroy();
      }
    });

    const splice = (upRes: IncomingMessage, upSock: Duplex, upHead: Buffer): void => {
      state.status = upRes.statusCode ?? 101;
      const pairs = pairsOf(upRes.rawHeaders);
      state.respPairs = pairs;
      const headers = sanitizeResponseHeaders(pairs, { upgrade: true, redaction: state.redaction });
      let text = `HTTP/1.1 ${state.status} Switching Protocols\r\n`;
      for (let i = 0; i + 1 < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      socket.off("data", onEarly);
      socket.off("close", onClose);
      socket.write(text + "\r\n");
      if (upHead.length > 0) {
        state.bytesOut += upHead.length;
        socket.write(upHead);
      }
      for (const c of early) {
        state.bytesIn += c.length;
        upSock.write(c);
      }
      upSock.on("error", (e) => deps.log.debug("upstream upgrade socket error", { flow: ctx.flow.id, code: (e as NodeJS.ErrnoException).code }));
      socket.on("data", (c: Buffer) => (state.bytesIn += c.length));
      upSock.on("data", (c: Buffer) => (state.bytesOut += c.length));
      socket.pipe(upSock);
      upSock.pipe(socket);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        socket.destroy();
        upSock.destroy();
        finish();
      };
      socket.once("close", end);
      upSock.once("close", end);
      if (socket.destroyed) end();
    };

    // Upstream refused the upgrade: relay its answer (sanitised, redacted), then close.
    up.on("response", (upRes: IncomingMessage) => {
      socket.off("data", onEarly);
      state.status = upRes.statusCode ?? 502;
      const pairs = pairsOf(upRes.rawHeaders);
      state.respPairs = pairs;
      const enc = (upRes.headers["content-encoding"] ?? "identity").toLowerCase();
      if (!state.redaction.empty && enc !== "identity") {
        state.status = 502;
        state.flags.add(AuditFlags.unredactable);
        upRes.resume();
        writeRaw(socket, 502, UPSTREAM_ERROR_BODY);
        return;
      }
      const headers = sanitizeResponseHeaders(pairs, { rewritesBody: !state.redaction.empty, redaction: state.redaction });
      let text = `HTTP/1.1 ${state.status} ${REASONS[state.status] ?? "Upstream Response"}\r\n`;
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const n = headers[i]!.toLowerCase();
        if (n === "content-length" || n === "connection") continue;
        text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      }
      socket.write(`${text}Connection: close\r\n\r\n`);
      const sample = new BodySample(deps.limits.bodyStorage);
      state.respSample = sample;
      const body = state.redaction.empty ? upRes : upRes.pipe(new RedactingStream(state.redaction));
      body.on("data", (c: Buffer) => {
        state.bytesOut += c.length;
        sample.add(c);
      });
      body.pipe(socket);
    });
    up.end();
  } catch (e) {
    deps.log.error("upgrade handling failed", { flow: ctx.flow.id, error: redactString(e instanceof Error ? e.message : String(e), state.redaction) });
    state.flags.add(AuditFlags.upstreamError);
    state.status = 502;
    writeRaw(socket, 502, UPSTREAM_ERROR_BODY);
  }
}
