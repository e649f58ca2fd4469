/**
 * Cancel keys. Each agent session gets a BackendKeyData the gateway made
 * up, mapped here to the upstream backend's real key and address. A
 * CancelRequest arrives on a new connection that carries nothing but that
 * key, so this map is how Ctrl-C in `psql` reaches the right upstream
 * backend — and an agent never learns (or forges) a real backend key.
 */
import { randomInt } from "node:crypto";
import type { UpstreamTarget } from "./upstream.js";

export interface CancelTarget {
  target: UpstreamTarget;
  key: { pid: number; secret: number };
}

/** Agent-facing keys → upstream backends, for the sessions alive now. */
export class CancelRegistry {
  readonly #byKey = new Map<string, CancelTarget>();

  /** Issues a fresh agent-facing key for an upstream backend; call the returned function when the session ends. */
  issue(upstream: CancelTarget): { pid: number; secret: number; release: () => void } {
    for (;;) {
      const pid = randomInt(1, 2 ** 31 - 1);
      const secret = randomInt(-(2 ** 31), 2 ** 31 - 1);
      const k = `${pid}:${secret}`;
      if (this.#byKey.has(k)) continue;
      this.#byKey.set(k, upstream);
      return { pid, secret, release: () => this.#byKey.delete(k) };
    }
  }

  /** The upstream backend behind an agent-facing key, if that session is still alive. */
  lookup(pid: number, secret: number): CancelTarget | undefined {
    return this.#byKey.get(`${pid}:${secret}`);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
