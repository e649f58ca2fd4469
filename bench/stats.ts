/**
 * Order statistics shared by the benchmarks, so every figure called "p50"
 * or "p99" in `npm run bench` means the same thing.
 */

/** The `p`-th percentile of already sorted samples: the element at floor(p% × n). NaN when empty. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The `p`-th percentile of samples in any order (sorts a copy). */
export function percentile(xs: readonly number[], p: number): number {
  return percentileSorted([...xs].sort((a, b) => a - b), p);
}
