/**
 * `GET /api/analytics?since&until&bucket`: requests, denies, approvals and
 * p50 latency per time bucket, plus breakdowns by device, endpoint and
 * rule. Counting is SQL; medians are computed here from the (bounded)
 * latency samples. The range is capped at {@link MAX_RANGE_MS} and the
 * series at {@link MAX_BUCKETS} buckets.
 */
import type { Analytics, AnalyticsBucket } from "../api.js";
import { json, type HandlerTable } from "../context.js";
import { HttpError, intParam } from "../http.js";

export const MAX_RANGE_MS = 90 * 24 * 3600_000;
export const MAX_BUCKETS = 1000;
const DEFAULT_RANGE_MS = 24 * 3600_000;
/** Bucket sizes picked when none is given: the smallest giving ≤ 120 buckets. */
const NICE_BUCKETS = [1000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  const m = values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  return Math.round(m * 1000) / 1000;
}

export const analyticsRoutes: HandlerTable = {
  "GET /api/analytics": (ctx) => {
    const now = ctx.now();
    const until = intParam(ctx.query, "until", { min: 0 }) ?? now + 1;
    const since = intParam(ctx.query, "since", { min: 0 }) ?? until - DEFAULT_RANGE_MS;
    if (since >= until) throw new HttpError(400, "since must be before until");
    if (until - since > MAX_RANGE_MS) throw new HttpError(400, `range too long: at most ${MAX_RANGE_MS / 86_400_000} days`);
    const range = until - since;
    let bucketMs = intParam(ctx.query, "bucket", { min: 1000 }) ?? NICE_BUCKETS.find((b) => range / b <= 120) ?? 86_400_000;
    if (Math.ceil(range / bucketMs) > MAX_BUCKETS) bucketMs = Math.ceil(range / MAX_BUCKETS);
    const nBuckets = Math.ceil(range / bucketMs);

    const stats = ctx.deps.store.stats;
    const counts = stats.buckets(since, until, bucketMs);
    const perBucket: number[][] = Array.from({ length: nBuckets }, () => []);
    const perEndpoint = new Map<string, number[]>();
    for (const [b, endpoint, ms] of stats.latencies(since, until, bucketMs)) {
      perBucket[b]?.push(ms);
      let l = perEndpoint.get(endpoint);
      if (!l) perEndpoint.set(endpoint, (l = []));
      l.push(ms);
    }
    const series: AnalyticsBucket[] = Array.from({ length: nBuckets }, (_, i) => ({ t: since + i * bucketMs, requests: 0, denies: 0, approvals: 0, p50: null }));
    const totals = { requests: 0, denies: 0, approvals: 0 };
    for (const c of counts) {
      const s = series[c.bucket];
      if (!s) continue;
      s.requests = c.requests;
      s.denies = c.denies;
      s.approvals = c.approvals;
      totals.requests += c.requests;
      totals.denies += c.denies;
      totals.approvals += c.approvals;
    }
    series.forEach((s, i) => (s.p50 = median(perBucket[i]!)));
    const body: Analytics = {
      since,
      until,
      bucketMs,
      series,
      byDevice: stats.byDevice(since, until),
      byEndpoint: stats.byEndpoint(since, until).map((e) => ({ ...e, p50: median(perEndpoint.get(e.key) ?? []) })),
      byRule: stats.byRule(since, until),
      totals,
    };
    json(ctx, body);
  },
};
