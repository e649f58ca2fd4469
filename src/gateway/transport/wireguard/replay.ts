/**
 * Sliding-window replay protection for transport counters (whitepaper §5.4.6),
 * the RFC 6479 way: a ring of 32-bit blocks; moving the window forward only
 * clears the blocks it passes over, so each check is O(1) amortized.
 *
 * Ring: 128 blocks × 32 bits = 4096 bits; usable window 4096 − 32 = 4064
 * counters behind the highest one seen (WireGuard requires ≥ 2000 or so;
 * the brief asks for ≥ 2048).
 */
const BLOCK_BITS = 32;
const RING_BLOCKS = 128;
export const REPLAY_RING_BITS = BLOCK_BITS * RING_BLOCKS;
export const REPLAY_WINDOW = REPLAY_RING_BITS - BLOCK_BITS;

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_BLOCKS);
  private last = 0;

  /** Whether `counter` could be fresh (not marked, not behind the window). Does not mark. */
  check(counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0) return false;
    if (counter > this.last) return true;
    if (this.last - counter > REPLAY_WINDOW) return false;
    const block = Math.floor(counter / BLOCK_BITS) % RING_BLOCKS;
    return (this.ring[block]! & (1 << (counter % BLOCK_BITS))) === 0;
  }

  /**
   * Marks `counter` as seen. Call only after the packet authenticated.
   * Returns false if it was already seen or is too old (a replay).
   */
  accept(counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0) return false;
    const blockIndex = Math.floor(counter / BLOCK_BITS);
    if (counter > this.last) {
      const current = Math.floor(this.last / BLOCK_BITS);
      const diff = Math.min(blockIndex - current, RING_BLOCKS);
      for (let i = 1; i <= diff; i++) this.ring[(current + i) % RING_BLOCKS] = 0;
      this.last = counter;
    } else if (this.last - counter > REPLAY_WINDOW) {
      return false;
    }
    const block = blockIndex % RING_BLOCKS;
    const bit = 1 << (counter % BLOCK_BITS);
    const old = this.ring[block]!;
    this.ring[block] = old | bit;
    return (old & bit) === 0;
  }

  reset(): void {
    this.ring.fill(0);
    this.last = 0;
  }
}
