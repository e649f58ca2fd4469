/**
 * The stdin pre-gate's buffer: reads an exec/shell channel's piped stdin
 * *before* anything reaches upstream, so a rule on `ssh.stdin` judges the
 * whole script (`ssh host < script.sh`) and a denied one never runs.
 *
 * Only a bounded stdin can be judged. The capture ends at EOF (complete),
 * or — incomplete, so `ssh.stdin` becomes unknown/truncated and a rule that
 * depends on it fails closed — when the buffer limit is exceeded, when the
 * agent goes quiet for `idleMs` without EOF (an interactive or paused
 * stream), or after `totalMs` however the bytes trickle. Every byte read is
 * kept so that, if the verdict is allow after all, upstream receives the
 * stream intact; the stream is left paused for the caller to pipe on.
 */
import type { Readable } from "node:stream";

export interface StdinCapture {
  /** Everything read, in order (may exceed the limit by one chunk). */
  chunks: Buffer[];
  bytes: number;
  /** EOF was seen within the limits: the rules judged the whole stdin. */
  complete: boolean;
  /** Why the capture stopped. */
  end: "eof" | "overflow" | "idle" | "timeout" | "closed";
}

export interface StdinLimits {
  maxBytes: number;
  idleMs: number;
  totalMs: number;
}

/** Captures `stream` per the module comment; never rejects. */
export function captureStdin(stream: Readable, limits: StdinLimits): Promise<StdinCapture> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (end: StdinCapture["end"]) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearTimeout(total);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      stream.off("error", onClose);
      if (end !== "eof") stream.pause();
      resolve({ chunks, bytes, complete: end === "eof", end });
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish("idle"), limits.idleMs);
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
      if (bytes > limits.maxBytes) finish("overflow");
      else armIdle();
    };
    const onEnd = () => finish("eof");
    const onClose = () => finish("closed");
    const total = setTimeout(() => finish("timeout"), limits.totalMs);
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onClose);
    stream.once("error", onClose);
    armIdle();
    stream.resume();
  });
}

/** The captured bytes as the `ssh.stdin` facet: UTF-8 text of at most `maxBytes`. */
export function stdinText(c: StdinCapture, maxBytes: number): string {
  const all = Buffer.concat(c.chunks);
  return (all.length > maxBytes ? all.subarray(0, maxBytes) : all).toString("utf8");
}
