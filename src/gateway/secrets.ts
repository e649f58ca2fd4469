/**
 * Secret resolution: where a credential's real value comes from when a
 * hook asks for it. The convention is documented once, in
 * docs/credentials.md; in short:
 *
 * 1. The secret store (the SQLite `secrets` table, filled from the
 *    dashboard) — keyed by (credential name, slot).
 * 2. The gateway's environment: `CLAWPATROL_SECRET_<NAME>` for the primary
 *    slot, `CLAWPATROL_SECRET_<NAME>_<SLOT>` for the others. A value
 *    starting with `@` names a file to read (PEM bundles, systemd
 *    credentials, Kubernetes secret mounts); `@@` escapes a literal `@`.
 *
 * A secret that no source holds is not an error here: {@link
 * SecretResolver.get} returns `undefined`, the hook reports the slot as
 * missing, and the HTTP runtime forwards without injection and logs a
 * warning. A source that is configured but broken (an `@file` that cannot
 * be read) is an error, so a typo in a path is loud rather than silent.
 *
 * Values are read on every call — no cache — so a rotated file or a value
 * pasted on the dashboard applies to the next request.
 */
import { readFileSync } from "node:fs";
import type { SecretSlots } from "../types/credentials/http.js";
import { PRIMARY_SLOT } from "../types/credentials/http.js";
import { MIN_SECRET_LENGTH } from "./redact.js";

/** The shape of the secrets repository (src/store/secrets.ts) the resolver reads first. */
export interface SecretStore {
  get(name: string, slot: string): string | undefined;
}

/** Raised for an `@file` secret that cannot be read. Names the variable and path, never a value. */
export class SecretFileError extends Error {
  constructor(
    readonly variable: string,
    readonly path: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error && "code" in cause ? String((cause as NodeJS.ErrnoException).code) : "unreadable";
    super(`${variable}: cannot read secret file ${JSON.stringify(path)} (${why})`);
    this.name = "SecretFileError";
  }
}

/** Prefix of every secret environment variable. */
export const SECRET_ENV_PREFIX = "CLAWPATROL_SECRET_";

/** Upper-cases ASCII and turns every character that is not a letter or digit into `_`. */
function mangle(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, "_").toUpperCase();
}

/**
 * The environment variable holding a credential's slot:
 * `CLAWPATROL_SECRET_<NAME>` for the primary slot (slot omitted or
 * {@link PRIMARY_SLOT}), `CLAWPATROL_SECRET_<NAME>_<SLOT>` otherwise.
 * `orb-test` → `CLAWPATROL_SECRET_ORB_TEST`; `k8s.prod` + `cert` →
 * `CLAWPATROL_SECRET_K8S_PROD_CERT`.
 */
export function secretEnvVar(credentialName: string, slot?: string): string {
  const base = SECRET_ENV_PREFIX + mangle(credentialName);
  return slot === undefined || slot === PRIMARY_SLOT ? base : `${base}_${mangle(slot)}`;
}

/**
 * Groups (credential, slot) pairs whose environment variables coincide —
 * mangling is lossy (`a-b` + `c` and `a` + `b_c` both give `..._A_B_C`).
 * The gateway warns about each group at load so an operator learns of the
 * ambiguity before a request picks up the wrong value.
 */
export function envVarCollisions(entries: Iterable<{ credential: string; slot?: string }>): Map<string, string[]> {
  const by = new Map<string, Set<string>>();
  for (const e of entries) {
    const v = secretEnvVar(e.credential, e.slot);
    const label = e.slot === undefined || e.slot === PRIMARY_SLOT ? e.credential : `${e.credential}.${e.slot}`;
    by.set(v, (by.get(v) ?? new Set()).add(label));
  }
  const out = new Map<string, string[]>();
  for (const [v, labels] of by) if (labels.size > 1) out.set(v, [...labels].sort());
  return out;
}

/** Where {@link SecretResolver} looks, injectable for tests. */
export interface SecretResolverOptions {
  /** The secrets repository; consulted first. */
  store?: SecretStore;
  /** The environment (default: `process.env`). */
  env?: Record<string, string | undefined>;
  /** Reads an `@file` (default: `fs.readFileSync(path, "utf8")`). */
  readFile?: (path: string) => string;
  /**
   * Told about values refused for being shorter than
   * {@link MIN_SECRET_LENGTH} bytes (they could not be redacted). Never
   * receives the value.
   */
  warn?: (message: string) => void;
}

/** Resolves credential secrets from the store, then the environment. */
export class SecretResolver {
  private readonly store: SecretStore | undefined;
  private readonly env: Record<string, string | undefined>;
  private readonly readFile: (path: string) => string;
  private readonly warn: (message: string) => void;

  constructor(opts: SecretResolverOptions = {}) {
    this.store = opts.store;
    this.env = opts.env ?? process.env;
    this.readFile = opts.readFile ?? ((p) => readFileSync(p, "utf8"));
    this.warn = opts.warn ?? (() => {});
  }

  /**
   * The value of a credential's slot (primary when omitted), or
   * `undefined` when no source holds a usable one. Throws
   * {@link SecretFileError} for an unreadable `@file`.
   *
   * An empty value counts as unset at every source, so an empty store row
   * does not hide an environment variable. A value shorter than
   * {@link MIN_SECRET_LENGTH} bytes is refused with a warning: the
   * redactor cannot safely hide it, and injecting what cannot be hidden
   * would break ARCHITECTURE §6.1.
   */
  get(credentialName: string, slot?: string): string | undefined {
    const s = slot ?? PRIMARY_SLOT;
    let value = this.store?.get(credentialName, s);
    let where = `secret store ${credentialName}.${s}`;
    if (value === undefined || value === "") {
      const variable = secretEnvVar(credentialName, s);
      value = this.fromEnv(variable);
      where = variable;
    }
    if (value === undefined || value === "") return undefined;
    if (Buffer.byteLength(value, "utf8") < MIN_SECRET_LENGTH) {
      this.warn(`${where}: value shorter than ${MIN_SECRET_LENGTH} bytes refused (too short to redact); not injecting`);
      return undefined;
    }
    return value;
  }

  /** The slots of one credential, as injection hooks read them. */
  slotsFor(credentialName: string): SecretSlots {
    return { get: (slot?: string) => this.get(credentialName, slot) };
  }

  private fromEnv(variable: string): string | undefined {
    const raw = this.env[variable];
    if (raw === undefined || !raw.startsWith("@")) return raw;
    // `@@...` escapes a literal value that starts with "@".
    if (raw.startsWith("@@")) return raw.slice(1);
    const path = raw.slice(1);
    let text: string;
    try {
      text = this.readFile(path);
    } catch (err) {
      throw new SecretFileError(variable, path, err);
    }
    // Editors and `echo` end files with a newline that is not part of the secret.
    return text.endsWith("\r\n") ? text.slice(0, -2) : text.endsWith("\n") ? text.slice(0, -1) : text;
  }
}
