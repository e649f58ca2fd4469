/**
 * Login throttling per client address: the first {@link FREE_FAILURES}
 * failures cost nothing; after that each further attempt must wait
 * 1 s, 2 s, 4 s, ... (capped at {@link MAX_DELAY_MS}) after the last
 * failure. A success clears the address. Entries expire after a quiet day,
 * and the table is bounded so a spray of addresses cannot grow it forever.
 */
export const FREE_FAILURES = 5;
export const MAX_DELAY_MS = 15 * 60_000;
const FORGET_MS = 24 * 3600_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  failures: number;
  last: number;
}

export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds `ip` must still wait before its next attempt (0: go ahead). */
  retryAfter(ip: string): number {
    const e = this.#entries.get(ip);
    if (!e || e.failures < FREE_FAILURES) return 0;
    const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** (e.failures - FREE_FAILURES));
    return Math.max(0, e.last + delay - this.now());
  }

  failure(ip: string): void {
    const now = this.now();
    const e = this.#entries.get(ip);
    if (e && now - e.last < FORGET_MS) {
      e.failures++;
      e.last = now;
      // Refresh insertion order so pruning drops the quietest addresses first.
      this.#entries.delete(ip);
      this.#entries.set(ip, e);
      return;
    }
    this.#entries.delete(ip);
    if (this.#entries.size >= MAX_ENTRIES) this.#prune(now);
    this.#entries.set(ip, { failures: 1, last: now });
  }

  success(ip: string): void {
    this.#entries.delete(ip);
  }

  #prune(now: number): void {
    for (const [k, e] of this.#entries) if (now - e.last >= FORGET_MS) this.#entries.delete(k);
    // Still full: drop the oldest tenth (Map iterates in insertion order).
    let drop = this.#entries.size >= MAX_ENTRIES ? Math.ceil(MAX_ENTRIES / 10) : 0;
    for (const k of this.#entries.keys()) {
      if (drop-- <= 0) break;
      this.#entries.delete(k);
    }
  }
}
