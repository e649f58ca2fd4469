/**
 * Small stream helpers shared by sessions and forwards: whether an ssh2
 * channel can still carry data, waiting for queued writes to leave, and
 * refusing a channel with the reason on its stderr.
 *
 * ssh2's channel `_write` silently drops writes (and never calls their
 * callbacks) once the peer closed the channel, so every wait here also
 * ends when the channel closes — nothing can hang on a vanished agent.
 */
import type { Readable, Writable } from "node:stream";
import type { ServerChannel } from "ssh2";

/** Exit status of a channel the gateway refused (126: "found but cannot execute"). */
export const DENIED_EXIT_STATUS = 126;

/** Whether our side of an ssh2 channel may still send. */
export function channelOpen(ch: unknown): boolean {
  const state = (ch as { outgoing?: { state?: string } }).outgoing?.state;
  return state === "open";
}

/** Resolves once every write queued on `w` so far has been handed to the transport, or `closer` closed. */
export function flushed(w: Writable, closer: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    if (w.destroyed || w.writableEnded || !channelOpen(closer)) return resolve();
    const done = () => {
      closer.off("close", done);
      resolve();
    };
    closer.once("close", done);
    try {
      w.write(Buffer.alloc(0), () => done());
    } catch {
      done();
    }
  });
}

/** Resolves when a readable has ended, closed or failed — or after `capMs` (the caller already saw the channel close). */
export function ended(r: Readable, capMs = 2_000): Promise<void> {
  return new Promise((resolve) => {
    if (r.readableEnded || r.destroyed) return resolve();
    const done = () => {
      clearTimeout(timer);
      r.off("end", done);
      r.off("close", done);
      r.off("error", done);
      resolve();
    };
    const timer = setTimeout(done, capMs);
    r.once("end", done);
    r.once("close", done);
    r.once("error", done);
  });
}

/**
 * Refuses a started channel: the reason on stderr (a line the agent — an
 * LLM or a human — reads), exit status {@link DENIED_EXIT_STATUS}, EOF and
 * close. Anything the agent already sent is discarded. `crlf` for pty
 * sessions, whose terminal is in raw mode.
 */
export function refuseChannel(ch: ServerChannel, message: string, crlf = false): void {
  ch.on("error", () => {});
  ch.resume();
  if (!channelOpen(ch)) return;
  try {
    ch.stderr.write(`clawpatrol: ${message.replace(/[\r\n]+/g, " ")}${crlf ? "\r\n" : "\n"}`);
    ch.exit(DENIED_EXIT_STATUS);
    ch.end();
  } catch {
    ch.destroy();
  }
}
