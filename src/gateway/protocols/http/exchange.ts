/**
 * One plain (non-upgrade) HTTP request through the interceptor:
 *
 *   head checks → body read up to `body_buffer` → action → decide →
 *   (approval chain) → deny: 403 + reason, connection closed
 *                    → allow: inject credential → forward → stream back
 *
 * Upstream is contacted only after a final allow. Exactly one audit record
 * is emitted per request, when it is over (however it ended).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { collectBody, inspectedPrefix } from "./body.js";
import { AuditFlags, toAuditRecord, type ExchangeState } from "./audit.js";
import { forward } from "./forward.js";
import { setHeader } from "./headers.js";
import { redactString } from "./scrub.js";
import type { UpstreamPool } from "./pool.js";
import type { HttpInterceptDeps, InterceptEndpoint } from "./ports.js";
import { applyOutcome, buildAction, checkHead, newExchange, prepareOutbound, settle, type ConnContext } from "./request.js";

/** What an exchange needs from the interceptor. */
export interface ExchangeEnv<E extends InterceptEndpoint> {
  deps: HttpInterceptDeps<E>;
  pool: UpstreamPool;
  /** The gateway is shutting down: answer with `Connection: close`. */
  closing(): boolean;
}

/** Emits the audit record of an exchange, once. */
export function finishExchange<E extends InterceptEndpoint>(env: ExchangeEnv<E>, state: ExchangeState): void {
  if (state.done) return;
  state.done = true;
  try {
    env.deps.audit(toAuditRecord(state, env.deps.limits.bodyStorage, performance.now()));
  } catch (e) {
    env.deps.log.error("audit sink failed", { flow: state.flow.id, error: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * A response the gateway writes itself (deny, refusal, error): plain text,
 * `Connection: close` — after a refusal the rest of the connection is not
 * worth trusting (an unread body, a pipelined request behind it).
 */
export function respondText(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    connection: "close",
  });
  res.end(body);
}

/** Handles one request; resolves when the exchange is over. Never rejects. */
export async function handleExchange<E extends InterceptEndpoint>(env: ExchangeEnv<E>, ctx: ConnContext<E>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { deps } = env;
  const state = newExchange(ctx, req, deps.now());
  // The agent going away cancels a pending approval; the controller is only built when one runs.
  let gone: AbortController | undefined;
  let clientGone = false;
  const signal = (): AbortSignal => {
    if (!gone) {
      gone = new AbortController();
      if (clientGone) gone.abort();
    }
    return gone.signal;
  };
  let closed = false;
  res.once("close", () => {
    closed = true;
    if (!res.writableFinished) {
      clientGone = true;
      gone?.abort();
    }
  });
  try {
    const problem = checkHead(ctx, req);
    if (problem) {
      state.reason = problem.reason;
      state.status = problem.status;
      respondText(res, problem.status, problem.reason);
      return;
    }

    const limits = deps.limits;
    const body = await collectBody(req, limits.bodyBuffer);
    state.reqBody = body.chunks.length === 0 ? null : Buffer.concat(body.chunks);
    state.reqBodyCut = !body.complete;
    if (body.aborted || clientGone) {
      state.reason = "client disconnected while sending the request";
      state.flags.add(AuditFlags.clientDisconnected);
      return;
    }
    const truncated = !body.complete;
    if (truncated) state.flags.add(AuditFlags.inspectionTruncated);
    const inspected = inspectedPrefix(body, limits.bodyBuffer);
    const action = buildAction(ctx, req, inspected, truncated);
    const outcome = await settle(deps, ctx, action, signal);
    applyOutcome(state, action, outcome);

    if (clientGone) {
      state.verdict = "deny";
      state.reason ||= "client disconnected before the decision";
      state.flags.add(AuditFlags.clientDisconnected);
      return;
    }
    if (!outcome.allow) {
      state.status = 403;
      respondText(res, 403, state.reason);
      return;
    }

    const prepared = await prepareOutbound(deps, ctx, req, state, false, { bytes: inspected, truncated });
    if (!prepared) {
      state.status = 502;
      state.flags.add(AuditFlags.upstreamError);
      respondText(res, 502, "credential could not be prepared");
      return;
    }
    let headers = prepared.headers;
    if (!state.redaction.empty) {
      // Redaction needs to see the body: ask for it unencoded (encoded ones are decoded or refused).
      headers = setHeader(headers, "Accept-Encoding", "identity");
    }
    const tls = await deps.upstreamTls({ endpoint: ctx.endpoint, servername: ctx.upstream.host, ...(state.credential ? { credential: state.credential } : {}) });
    if (clientGone) {
      state.flags.add(AuditFlags.clientDisconnected);
      return;
    }
    await forward({
      pool: env.pool,
      poolKey: `${ctx.endpoint.key}\0${state.credential}`,
      host: ctx.upstream.host,
      port: ctx.upstream.port,
      tls,
      method: req.method ?? "GET",
      path: prepared.target,
      headers,
      body: prepared.body ? { chunks: [Buffer.from(prepared.body)], size: prepared.body.length, complete: true, aborted: false } : body,
      req,
      res,
      state,
      sampleLimit: limits.bodyStorage,
      log: deps.log,
      close: env.closing(),
    });
  } catch (e) {
    deps.log.error("request handling failed", { flow: ctx.flow.id, error: redactString(e instanceof Error ? e.message : String(e), state.redaction) });
    state.flags.add(AuditFlags.upstreamError);
    if (!res.headersSent) {
      state.status = 502;
      respondText(res, 502, "bad gateway");
    } else {
      res.destroy();
    }
  } finally {
    if (closed || res.writableFinished) finishExchange(env, state);
    else res.once("close", () => finishExchange(env, state));
  }
}
