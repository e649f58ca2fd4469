/**
 * Helpers around the redaction port for values that are complete in
 * memory (header values, audit records). Streams go through
 * ./redact-stream.ts.
 */
import type { SecretRedaction } from "./ports.js";

/** What sensitive header values become in the audit log (the redactor's marker too). */
export const MASK = "***";

/** The redaction of "no secrets": everything passes unchanged. */
export const NO_REDACTION: SecretRedaction = {
  empty: true,
  patterns: [],
  redactText: (s) => s,
  redactBytes: (b) => Buffer.from(b),
};

/** Patterns as strings, for a cheap `includes` pre-check; undefined when some pattern is not valid UTF-8. */
const patternTexts = new WeakMap<SecretRedaction, readonly string[] | null>();

function textsOf(r: SecretRedaction): readonly string[] | null {
  let t = patternTexts.get(r);
  if (t === undefined) {
    const texts = r.patterns.map((p) => p.toString("utf8"));
    t = texts.every((x, i) => Buffer.from(x, "utf8").equals(r.patterns[i]!)) ? texts : null;
    patternTexts.set(r, t);
  }
  return t;
}

/**
 * `r.redactText(text)`, skipping the byte-level scan when no pattern occurs
 * in the string at all (the common case: most header values and audit
 * fields hold no secret).
 */
export function redactString(text: string, r: SecretRedaction): string {
  if (r.empty || text.length === 0) return text;
  const texts = textsOf(r);
  if (texts !== null && !texts.some((p) => text.includes(p))) return text;
  return r.redactText(text);
}

/** Whether `text` holds any pattern of `r`. */
export function containsSecret(text: string, r: SecretRedaction): boolean {
  return !r.empty && redactString(text, r) !== text;
}

/**
 * A deep copy of a JSON-like value with `r` applied to every string (keys
 * included) and every byte array: the last line of defence before a
 * record leaves the data plane.
 */
export function redactDeep<T>(value: T, r: SecretRedaction): T {
  if (r.empty) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redactString(v, r);
    if (v instanceof Uint8Array) return new Uint8Array(r.redactBytes(v));
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[redactString(k, r)] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/** `buf` without a tail that is the beginning of a pattern (a cut-off secret must not survive in part). */
export function trimPatternPrefix(buf: Buffer, patterns: readonly Buffer[]): Buffer {
  let end = buf.length;
  for (const p of patterns) {
    for (let k = Math.min(p.length - 1, end); k > 0; k--) {
      if (buf.compare(p, 0, k, end - k, end) === 0) {
        end -= k;
        break;
      }
    }
  }
  return buf.subarray(0, end);
}
