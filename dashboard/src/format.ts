/** Formatting helpers. Pure functions, no DOM: unit-tested under node:test. */

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Epoch ms → `yyyy-MM-dd HH:mm:ss.SSS` in local time; "—" for null/invalid. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Epoch ms → `HH:mm` (or `MM-dd HH:mm` when the range spans days), for chart axes. */
export function formatAxisTime(ms: number, spanMs: number): string {
  const d = new Date(ms);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return spanMs > 36 * 3600_000 ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}` : hm;
}

/** Milliseconds as a short duration: `12 ms`, `1.25 s`, `3 m 4 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} m ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Bytes as `512 B`, `1.5 KiB`, `2.0 MiB`. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** "in 42 s" / "3 m ago" relative to now. */
export function formatRelative(ms: number, now = Date.now()): string {
  const d = ms - now;
  const a = Math.abs(d);
  const s = a < 60_000 ? `${Math.round(a / 1000)} s` : a < 3600_000 ? `${Math.round(a / 60_000)} m` : `${Math.round(a / 3600_000)} h`;
  return d >= 0 ? `in ${s}` : `${s} ago`;
}

/** Integer with thin grouping: 12345 → `12,345`. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return Math.round(n).toLocaleString("en-US");
}
