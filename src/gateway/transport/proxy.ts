/**
 * The `proxy` transport: one TCP port serving both SOCKS5 and HTTP
 * `CONNECT`, told apart by the first byte (0x05 vs an ASCII method letter).
 * After the handshake the socket — with any bytes the client already sent
 * past it pushed back — becomes a flow to the destination the client named,
 * attributed to the listener's profile and device.
 *
 * Input is hostile by assumption: the whole handshake has a deadline, the
 * bytes buffered for it are capped, nothing here throws, and any failure
 * closes the socket.
 */
import type net from "node:net";
import type { Destination } from "../flow.js";
import { LocalListener, type ListenerOptions } from "./listener.js";
import {
  CONNECT_ESTABLISHED,
  SOCKS5_REPLY,
  httpErrorResponse,
  parseConnect,
  parseSocks5Greeting,
  parseSocks5Request,
  socks5MethodReply,
  socks5Reply,
} from "./handshake.js";

/** Limits that keep hostile or slow clients from holding handshakes open. */
export interface ProxyListenerOptions extends ListenerOptions {
  /** Deadline for the whole handshake, from accept (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Cap on an HTTP CONNECT request head (default 8 KiB). */
  maxHeaderBytes?: number;
}

/** How long a refused client gets to read our reply before the socket is destroyed. */
const LINGER_MS = 1000;

type Stage = "first" | "socks-greeting" | "socks-request" | "http";

/** A `proxy` listener (SOCKS5 + HTTP CONNECT on one port). */
export class ProxyListener extends LocalListener {
  protected readonly kind = "proxy" as const;
  readonly #timeoutMs: number;
  readonly #maxHeader: number;

  constructor(opts: ProxyListenerOptions) {
    super(opts);
    this.#timeoutMs = opts.handshakeTimeoutMs ?? 10_000;
    this.#maxHeader = opts.maxHeaderBytes ?? 8192;
  }

  protected accept(socket: net.Socket): void {
    let stage: Stage = "first";
    let buf: Buffer = Buffer.alloc(0);
    let done = false;

    const finish = () => {
      done = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
    };
    /** Sends a last reply, stops reading and closes after a short linger. */
    const refuse = (reason: string, reply?: Buffer) => {
      if (done) return;
      finish();
      this.log(socket, reason);
      if (reply && socket.writable) {
        socket.end(reply);
        socket.resume(); // discard whatever else arrives
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
      } else {
        socket.destroy();
      }
    };
    const succeed = (destination: Destination, consumed: number, reply: Buffer) => {
      finish();
      const rest = buf.subarray(consumed);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      socket.write(reply);
      this.handOff(socket, destination);
    };

    const step = () => {
      // Loops because one chunk may hold the greeting and the request.
      for (;;) {
        if (done) return;
        if (stage === "first") {
          if (buf.length === 0) return;
          const b = buf[0]!;
          if (b === 0x05) stage = "socks-greeting";
          else if (b >= 0x41 && b <= 0x5a) stage = "http";
          else if (b === 0x04) return refuse("SOCKS4 is not supported", Buffer.from([0x00, 0x5b, 0, 0, 0, 0, 0, 0]));
          else return refuse(`unrecognised protocol (first byte 0x${b.toString(16).padStart(2, "0")})`);
        }
        if (stage === "socks-greeting") {
          const g = parseSocks5Greeting(buf);
          if (g.kind === "need-more") return;
          if (g.kind === "bad-version") return refuse("bad SOCKS version");
          if (!g.noAuth) return refuse("SOCKS5 client offered no acceptable method", socks5MethodReply(false));
          socket.write(socks5MethodReply(true));
          buf = buf.subarray(g.consumed);
          stage = "socks-request";
          continue;
        }
        if (stage === "socks-request") {
          const r = parseSocks5Request(buf);
          if (r.kind === "need-more") return;
          if (r.kind === "refuse") return refuse(r.reason, socks5Reply(r.reply));
          return succeed(r.destination, r.consumed, socks5Reply(SOCKS5_REPLY.succeeded));
        }
        const h = parseConnect(buf, this.#maxHeader);
        if (h.kind === "need-more") return;
        if (h.kind === "refuse") return refuse(`HTTP ${h.status}: ${h.reason}`, httpErrorResponse(h.status, h.body, h.headers));
        return succeed(h.destination, h.consumed, CONNECT_ESTABLISHED);
      }
    };

    const onData = (chunk: Buffer) => {
      try {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        step();
        // No handshake stage needs more than a few hundred bytes except the
        // HTTP head, which parseConnect caps itself; this is the backstop.
        if (!done && buf.length > this.#maxHeader + 512) refuse("handshake too large");
      } catch (err) {
        refuse(`internal error: ${(err as Error).message}`);
      }
    };
    const onEnd = () => refuse("client closed during handshake");
    const timer = setTimeout(() => {
      if (stage === "http") refuse("handshake timeout", httpErrorResponse(408, "Timed out waiting for the CONNECT request."));
      else refuse("handshake timeout");
    }, this.#timeoutMs);
    timer.unref();

    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.once("close", () => {
      if (!done) {
        done = true;
        clearTimeout(timer);
      }
    });
  }
}
