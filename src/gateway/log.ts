/**
 * Structured logging for the gateway: one JSON object per line (for log
 * shippers), or a readable line when writing to a terminal. Messages come
 * first and fields are plain data; callers never pass secrets (the
 * interception engine redacts before logging, and tests assert the logs hold
 * no secret bytes).
 */
export type Level = "debug" | "info" | "warn" | "error";

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  level?: Level;
  /** Readable lines instead of JSON (default: whether the output is a TTY). */
  pretty?: boolean;
  write?: (line: string) => void;
  now?: () => Date;
}

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x instanceof Error ? x.message : x));
}

/** A logger writing to stderr (or `write`). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = RANK[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  const now = opts.now ?? (() => new Date());
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    const time = now();
    if (pretty) {
      const t = time.toISOString().replace("T", " ").replace("Z", "");
      const rest = fields && Object.keys(fields).length > 0 ? ` ${json(fields)}` : "";
      write(`${t} ${level.toUpperCase().padEnd(5)} ${msg}${rest}\n`);
    } else {
      write(`${json({ time: time.toISOString(), level, msg, ...fields })}\n`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** `CLAWPATROL_LOG_LEVEL`, if it names a level. */
export function levelFromEnv(env: Record<string, string | undefined> = process.env): Level | undefined {
  const v = env.CLAWPATROL_LOG_LEVEL?.toLowerCase();
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : undefined;
}
