/**
 * Forwarding an allowed request and streaming the response back.
 *
 * The request body goes upstream byte for byte (the prefix read for the
 * decision, then the rest as it arrives). The response is streamed as it
 * arrives — headers flushed at once, every chunk passed on — so SSE and
 * long chunked bodies reach the agent incrementally. On the way it is
 * sanitised (cookies, auth challenges, `Alt-Svc`, key pins, hop-by-hop
 * headers) and, when a secret was injected, every occurrence of it is
 * redacted from the headers and the body. A body encoded in a way the
 * redactor cannot see through is decoded (gzip, deflate, br) or refused.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable, Transform } from "node:stream";
import type { ConnectionOptions } from "node:tls";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { AuditFlags, type ExchangeState } from "./audit.js";
import { BodySample, forwardBody, type CollectedBody } from "./body.js";
import { pairsOf, sanitizeResponseHeaders, type HeaderPairs } from "./headers.js";
import { RedactingStream } from "./redact-stream.js";
import type { UpstreamPool } from "./pool.js";
import type { InterceptLog } from "./ports.js";

export interface ForwardParams {
  pool: UpstreamPool;
  poolKey: string;
  host: string;
  port: number;
  tls: ConnectionOptions;
  method: string;
  path: string;
  headers: HeaderPairs;
  body: CollectedBody;
  /** The agent's request, for the part of the body not read yet. */
  req: IncomingMessage;
  res: ServerResponse;
  state: ExchangeState;
  sampleLimit: number;
  log: InterceptLog;
  /** Ask the agent to close the connection after this response (shutdown). */
  close?: boolean;
}

/** What the agent hears when upstream fails: never upstream's own words (they might carry a secret). */
export const UPSTREAM_ERROR_BODY = "bad gateway: the upstream request failed";

function decoderFor(encoding: string): Transform | undefined {
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      return createGunzip();
    case "deflate":
      return createInflate();
    case "br":
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/** Forwards the request; resolves when the response is complete or the exchange failed. Never rejects. */
export function forward(p: ForwardParams): Promise<void> {
  const { res, state } = p;
  return new Promise<void>((resolve) => {
    let settled = false;
    const done = () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    };
    const fail = (why: string, err?: unknown) => {
      state.flags.add(AuditFlags.upstreamError);
      p.log.warn("upstream request failed", {
        flow: state.flow.id,
        host: p.host,
        why,
        code: (err as NodeJS.ErrnoException | undefined)?.code,
      });
      if (!res.headersSent && !res.destroyed) {
        state.status = 502;
        res.writeHead(502, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(UPSTREAM_ERROR_BODY), connection: "close" });
        res.end(UPSTREAM_ERROR_BODY);
        res.once("finish", done);
        res.once("close", done);
      } else {
        res.destroy();
        done();
      }
    };

    const up = p.pool.request({ poolKey: p.poolKey, host: p.host, port: p.port, tls: p.tls, method: p.method, path: p.path, headers: p.headers });
    let responded = false;
    up.on("error", (err) => {
      // After the response started, the response stream reports failures.
      if (!settled && !responded) fail("connect", err);
    });
    // The agent went away: stop the upstream side too.
    res.once("close", () => {
      if (!res.writableFinished) {
        state.flags.add(AuditFlags.clientDisconnected);
        up.destroy();
        done();
      }
    });
    p.req.once("error", () => up.destroy());

    up.on("response", (upRes: IncomingMessage) => {
      responded = true;
      try {
        respond(upRes);
      } catch (e) {
        upRes.destroy();
        fail("response handling", e);
      }
    });

    const respond = (upRes: IncomingMessage): void => {
      const status = upRes.statusCode ?? 502;
      const pairs = pairsOf(upRes.rawHeaders);
      state.respPairs = pairs;
      const redaction = state.redaction;
      const noBody = p.method.toUpperCase() === "HEAD" || status === 204 || status === 304;
      const stages: Transform[] = [];
      let rewrites = false;
      if (!redaction.empty && !noBody) {
        rewrites = true;
        const enc = (upRes.headers["content-encoding"] ?? "identity").trim().toLowerCase();
        if (enc !== "identity" && enc !== "") {
          const dec = decoderFor(enc);
          if (!dec) {
            state.flags.add(AuditFlags.unredactable);
            upRes.resume();
            fail(`response encoding "${enc}" cannot be redacted`);
            return;
          }
          stages.push(dec);
        }
        stages.push(new RedactingStream(redaction));
      }
      const sample = new BodySample(p.sampleLimit);
      state.respSample = sample;
      state.status = status;
      const headers = sanitizeResponseHeaders(pairs, { rewritesBody: rewrites, redaction });
      if (p.close) headers.push("Connection", "close");
      res.writeHead(status, headers);
      res.flushHeaders();
      // Plain pipes rather than stream.pipeline: it allocates an AbortController
      // (and aborts it, building a DOMException) per response — measurable on
      // the keep-alive hot path.
      const failed = (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (!res.writableFinished) {
          if (!state.flags.has(AuditFlags.clientDisconnected)) {
            state.flags.add(AuditFlags.upstreamError);
            p.log.warn("response stream failed", { flow: state.flow.id, host: p.host, code: err.code });
          }
          res.destroy();
          upRes.destroy();
        }
        done();
      };
      let src: Readable = upRes;
      upRes.on("error", failed);
      for (const st of stages) {
        src = src.pipe(st);
        st.on("error", failed);
      }
      src.on("data", (c: Buffer) => {
        state.bytesOut += c.length;
        sample.add(c);
      });
      src.pipe(res);
      res.once("finish", done);
    };

    forwardBody(p.body, p.req, up, (n) => {
      state.bytesIn += n;
    });
  });
}
