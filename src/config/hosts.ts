/**
 * Host entries and the index that maps a dialed `host[:port]` to the
 * endpoint(s) claiming it.
 *
 * Matching rules (the reference's, plus ports): an exact host beats a
 * wildcard; among wildcards the longest matching suffix wins; `*.example.com`
 * matches `a.example.com` and `a.b.example.com` but not `example.com`. An
 * entry without a port claims the endpoint type's default port; a lookup
 * without a port (a fixture, say) matches entries on their default port.
 */
import { checkHostEntry, checkPort, splitHostPort } from "../types/formats.js";

export interface HostEntry {
  /** Lower-cased host name or IP (IPv6 without brackets); for wildcards, the suffix after `*.`. */
  host: string;
  wildcard: boolean;
  /** Explicit port, if the entry names one. */
  port?: number;
}

/**
 * Parses a host entry as written in config (the endpoint types validate and
 * report malformed entries; here they are only skipped).
 */
export function parseHostEntry(entry: string): HostEntry | undefined {
  const text = entry.trim().toLowerCase();
  if (checkHostEntry(text, { wildcard: true }) !== undefined) return undefined;
  const hp = hostAndPort(text);
  if (!hp) return undefined;
  let host = hp.host;
  let wildcard = false;
  if (host.startsWith("*.")) {
    wildcard = true;
    host = host.slice(2);
  }
  const out: HostEntry = { host, wildcard };
  if (hp.port !== undefined) out.port = hp.port;
  return out;
}

/** `host[:port]` with the port as a number and a trailing root dot dropped; undefined when malformed. */
function hostAndPort(text: string): { host: string; port?: number } | undefined {
  const split = splitHostPort(text);
  if (!split.ok) return undefined;
  const { host, port } = split.value;
  const out: { host: string; port?: number } = { host: host.replace(/\.$/, "") };
  if (port !== undefined) {
    if (checkPort(port) !== undefined) return undefined;
    out.port = Number(port);
  }
  return out;
}

interface Claim<T> {
  value: T;
  port: number;
  defaultPort: number;
}

/** Maps dialed hosts to claimants (endpoints). Built once per policy load. */
export class HostIndex<T> {
  readonly #exact = new Map<string, Claim<T>[]>();
  readonly #wild: { suffix: string; claims: Claim<T>[] }[] = [];
  readonly #memo = new Map<string, T[]>();
  #sorted = true;

  /** Registers a host entry for a claimant whose protocol defaults to `defaultPort`. */
  add(entry: HostEntry, defaultPort: number, value: T): void {
    this.#memo.clear();
    const claim: Claim<T> = { value, port: entry.port ?? defaultPort, defaultPort };
    if (entry.wildcard) {
      let w = this.#wild.find((x) => x.suffix === entry.host);
      if (!w) {
        w = { suffix: entry.host, claims: [] };
        this.#wild.push(w);
        this.#sorted = false;
      }
      w.claims.push(claim);
      return;
    }
    const list = this.#exact.get(entry.host) ?? [];
    list.push(claim);
    this.#exact.set(entry.host, list);
  }

  /**
   * Everything claiming `hostPort`. With a port, only claims on that port;
   * without one, claims on their protocol's default port.
   */
  lookup(hostPort: string): T[] {
    // The index never changes after the policy compiles, so answers are
    // memoised (bounded: agents talk to a small set of hosts).
    let hit = this.#memo.get(hostPort);
    if (hit === undefined) {
      hit = this.#lookup(hostPort);
      if (this.#memo.size >= 4096) this.#memo.clear();
      this.#memo.set(hostPort, hit);
    }
    return hit;
  }

  #lookup(hostPort: string): T[] {
    const hp = hostAndPort(hostPort.trim().toLowerCase());
    if (!hp) return [];
    const host = hp.host;
    const pick = (claims: Claim<T>[]): T[] => {
      const out: T[] = [];
      for (const c of claims) {
        const ok = hp.port === undefined ? c.port === c.defaultPort : c.port === hp.port;
        if (ok && !out.includes(c.value)) out.push(c.value);
      }
      return out;
    };
    const exact = this.#exact.get(host);
    if (exact) {
      const hit = pick(exact);
      if (hit.length > 0) return hit;
    }
    if (!this.#sorted) {
      this.#wild.sort((a, b) => b.suffix.length - a.suffix.length);
      this.#sorted = true;
    }
    for (const w of this.#wild) {
      if (host.length > w.suffix.length && host.endsWith(`.${w.suffix}`)) {
        const hit = pick(w.claims);
        if (hit.length > 0) return hit;
      }
    }
    return [];
  }

  /** Port-qualified keys claimed by more than one distinct claimant (exact and wildcard). */
  conflicts(): { key: string; values: T[] }[] {
    const out: { key: string; values: T[] }[] = [];
    const scan = (prefix: string, claims: Claim<T>[]) => {
      const byPort = new Map<number, T[]>();
      for (const c of claims) {
        const l = byPort.get(c.port) ?? [];
        if (!l.includes(c.value)) l.push(c.value);
        byPort.set(c.port, l);
      }
      for (const [port, values] of byPort) if (values.length > 1) out.push({ key: `${prefix}:${port}`, values });
    };
    for (const [host, claims] of this.#exact) scan(host, claims);
    for (const w of this.#wild) scan(`*.${w.suffix}`, w.claims);
    return out;
  }
}
