/**
 * Running a real client from a test or benchmark without blocking the event
 * loop: the gateway under test usually lives in the same process, so
 * `spawnSync` would stall it while the client waits on it.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { closeSync, openSync } from "node:fs";

/** What a finished client left behind. */
export interface Captured {
  /** Exit code; null when it died of a signal (e.g. the timeout's SIGKILL) or could not start. */
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to close. */
  ms: number;
}

export interface CaptureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed (default: closed at once). */
  input?: string;
  /** Feed stdin from this file instead. */
  stdinFile?: string;
  /** SIGKILL after this long (default 30 s). */
  timeoutMs?: number;
  /** The child, right after spawn (to signal it, e.g. Ctrl-C tests). */
  onSpawn?(child: ChildProcess): void;
  /** Each stdout chunk as it arrives, with its arrival time (epoch ms). */
  onStdout?(chunk: string, at: number): void;
}

/** Spawns `cmd`, collects its output and resolves when it has closed (never rejects). */
export function spawnCapture(cmd: string, args: readonly string[], opts: CaptureOptions = {}): Promise<Captured> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const fd = opts.stdinFile !== undefined ? openSync(opts.stdinFile, "r") : undefined;
    const stdio: StdioOptions = [fd ?? "pipe", "pipe", "pipe"];
    const c = spawn(cmd, args, { env: opts.env ?? process.env, stdio, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
    if (fd !== undefined) closeSync(fd);
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => c.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    c.stdout!.on("data", (d: Buffer) => {
      const s = d.toString();
      stdout += s;
      opts.onStdout?.(s, Date.now());
    });
    c.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    c.stdin?.on("error", () => {}); // a client that exits without reading its stdin
    c.stdin?.end(opts.input ?? "");
    c.on("error", (e) => (stderr += `spawn error: ${e.message}`));
    opts.onSpawn?.(c);
    c.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
