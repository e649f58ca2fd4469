/**
 * Peeking at a flow's first bytes without consuming them: read until the
 * injected ClientHello sniffer can tell (TLS with its SNI / ALPN, or not
 * TLS), a byte cap, or a short timeout — then push every byte read back
 * with `unshift`, so whoever takes the stream next (relay or endpoint
 * runtime) sees it from byte 0.
 *
 * The sniffer itself is injected (its real implementation is the TLS
 * module's `peekClientHello`), so this file holds no TLS parsing.
 */
import type { Duplex } from "node:stream";
import type { FirstBytes } from "./dispatch-route.js";

/** What a ClientHello sniffer says about the bytes so far (the TLS module's result type). */
export type SniffResult = { kind: "tls"; sni?: string; alpn: string[] } | { kind: "need-more" } | { kind: "not-tls" };

/** Classifies a flow's first bytes; pure, called again with more bytes while it says "need-more". */
export type Sniffer = (buf: Buffer) => SniffResult;

/** Bounds on the peek, so a silent or trickling client cannot hold a flow in limbo. */
export interface PeekOptions {
  /** Give up waiting after this long (default 3 s): no bytes ⇒ not TLS, a partial hello ⇒ TLS without a name. */
  timeoutMs?: number;
  /** Stop reading after this many bytes (default 64 KiB; a ClientHello is rarely above 2 KiB). */
  maxBytes?: number;
}

/** The peek's outcome: the classification, or that the stream ended/failed before one was possible. */
export type PeekOutcome = { kind: "classified"; first: FirstBytes; bytes: number } | { kind: "closed"; reason: string };

/**
 * Reads the stream's first bytes, classifies them, and pushes them back.
 * Resolves with the stream paused and its bytes intact — or with
 * "closed" when it ended or failed first (a partial hello followed by EOF
 * can start nothing; `unshift` after end is not possible anyway).
 */
export function peekFirstBytes(stream: Duplex, sniff: Sniffer, opts: PeekOptions = {}): Promise<PeekOutcome> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;

    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      stream.off("error", onError);
    };
    const classified = (first: FirstBytes) => {
      if (settled) return;
      cleanup();
      stream.pause();
      if (total > 0) stream.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      resolve({ kind: "classified", first, bytes: total });
    };
    const closed = (reason: string) => {
      if (settled) return;
      cleanup();
      resolve({ kind: "closed", reason });
    };

    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      chunks.push(b);
      total += b.length;
      let r: SniffResult;
      try {
        r = sniff(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      } catch {
        // A sniffer bug must not let the flow skip routing: treat the bytes
        // as an unreadable hello (the fail-closed reading).
        r = { kind: "tls", alpn: [] };
      }
      if (r.kind === "tls") {
        const first: FirstBytes = { kind: "tls", alpn: r.alpn };
        if (r.sni) first.sni = r.sni;
        classified(first);
      } else if (r.kind === "not-tls") {
        classified({ kind: "not-tls" });
      } else if (total >= maxBytes) {
        classified({ kind: "tls", alpn: [] });
      }
    };
    const onEnd = () => closed("client closed before its first bytes could be classified");
    const onClose = () => closed("stream closed during sniff");
    const onError = (err: Error) => closed(`stream error during sniff: ${err.message}`);
    const timer = setTimeout(() => {
      classified(total === 0 ? { kind: "not-tls" } : { kind: "tls", alpn: [] });
    }, timeoutMs);
    timer.unref?.();

    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onClose);
    stream.once("error", onError);
    if (stream.destroyed) return closed("stream already closed");
    // A transport hands flows over paused (bytes pushed back); a 'data'
    // listener alone does not restart an explicitly paused stream.
    stream.resume();
  });
}
