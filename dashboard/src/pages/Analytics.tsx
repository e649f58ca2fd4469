/** /analytics — requests, denies, approvals and p50 latency over time; by device, endpoint and rule. */
import { useMemo, useState, type ReactNode } from "react";
import type { Analytics } from "../../../src/web/api.ts";
import { api, query } from "../api.ts";
import { Bars, TimeChart } from "../components/Chart.tsx";
import { ErrorBox, Loading, PageHead } from "../components/ui.tsx";
import { formatCount, formatDuration, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";

const RANGES: [string, number][] = [
  ["15m", 15 * 60_000],
  ["1h", 3600_000],
  ["6h", 6 * 3600_000],
  ["24h", 24 * 3600_000],
  ["7d", 7 * 24 * 3600_000],
  ["30d", 30 * 24 * 3600_000],
];
const BUCKETS = 60;

export function AnalyticsPage(): ReactNode {
  const [range, setRange] = useState("1h");
  const [tick, setTick] = useState(0);
  const span = RANGES.find(([k]) => k === range)![1];
  const a = useLoad(
    (signal) => {
      const until = Date.now();
      const bucket = Math.max(1000, Math.round(span / BUCKETS));
      return api.get<Analytics>(`/api/analytics${query({ since: until - span, until, bucket })}`, { signal });
    },
    [range, tick],
  );
  const times = useMemo(() => a.data?.series.map((b) => b.t) ?? [], [a.data]);
  return (
    <div className="analytics-page">
      <PageHead title="Analytics">
        <div className="seg" role="group" aria-label="Range">
          {RANGES.map(([k]) => (
            <button key={k} type="button" className={k === range ? "on" : ""} aria-pressed={k === range} onClick={() => setRange(k)}>
              {k}
            </button>
          ))}
        </div>
        <button type="button" className="btn small" onClick={() => setTick((t) => t + 1)}>
          Refresh
        </button>
      </PageHead>
      <ErrorBox error={a.error} />
      {!a.data ? (
        <Loading what="analytics" />
      ) : (
        <>
          <div className="stats">
            <div className="stat">
              <div className="label">Requests</div>
              <div className="value">{formatCount(a.data.totals.requests)}</div>
            </div>
            <div className="stat">
              <div className="label">Denied</div>
              <div className="value bad-text">{formatCount(a.data.totals.denies)}</div>
            </div>
            <div className="stat">
              <div className="label">Approvals</div>
              <div className="value warn-text">{formatCount(a.data.totals.approvals)}</div>
            </div>
            <div className="stat">
              <div className="label">Deny rate</div>
              <div className="value">{a.data.totals.requests ? `${((a.data.totals.denies / a.data.totals.requests) * 100).toFixed(1)}%` : "—"}</div>
            </div>
            <div className="stat wide">
              <div className="label">Range</div>
              <div className="value small mono">
                {formatTime(a.data.since)} → {formatTime(a.data.until)}
              </div>
            </div>
          </div>
          <div className="cols">
            <TimeChart
              title="Requests, denies, approvals"
              times={times}
              area
              series={[
                { name: "requests", cls: "s-req", values: a.data.series.map((b) => b.requests) },
                { name: "denies", cls: "s-deny", values: a.data.series.map((b) => b.denies) },
                { name: "approvals", cls: "s-appr", values: a.data.series.map((b) => b.approvals) },
              ]}
            />
            <TimeChart title="Latency p50 (ms)" times={times} unit=" ms" series={[{ name: "p50", cls: "s-lat", values: a.data.series.map((b) => b.p50) }]} />
          </div>
          <div className="cols three">
            <section className="card">
              <h2>By device</h2>
              <Bars rows={a.data.byDevice.map((r) => ({ key: r.key, value: r.requests, bad: r.denies }))} />
              <table className="grid compact">
                <thead>
                  <tr>
                    <th>Device</th>
                    <th className="num">Requests</th>
                    <th className="num">Denies</th>
                  </tr>
                </thead>
                <tbody>
                  {a.data.byDevice.map((r) => (
                    <tr key={r.key}>
                      <td className="ellipsis">{r.key}</td>
                      <td className="num mono">{formatCount(r.requests)}</td>
                      <td className="num mono">{formatCount(r.denies)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section className="card">
              <h2>By endpoint</h2>
              <Bars rows={a.data.byEndpoint.map((r) => ({ key: r.key, value: r.requests, bad: r.denies }))} />
              <table className="grid compact">
                <thead>
                  <tr>
                    <th>Endpoint</th>
                    <th className="num">Requests</th>
                    <th className="num">Denies</th>
                    <th className="num">p50</th>
                  </tr>
                </thead>
                <tbody>
                  {a.data.byEndpoint.map((r) => (
                    <tr key={r.key}>
                      <td className="mono ellipsis">{r.key}</td>
                      <td className="num mono">{formatCount(r.requests)}</td>
                      <td className="num mono">{formatCount(r.denies)}</td>
                      <td className="num mono">{formatDuration(r.p50)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section className="card">
              <h2>By rule</h2>
              <Bars rows={a.data.byRule.map((r) => ({ key: r.key, value: r.hits }))} />
              <table className="grid compact">
                <thead>
                  <tr>
                    <th>Rule</th>
                    <th className="num">Hits</th>
                  </tr>
                </thead>
                <tbody>
                  {a.data.byRule.map((r) => (
                    <tr key={r.key}>
                      <td className="mono ellipsis">{r.key || "(no rule)"}</td>
                      <td className="num mono">{formatCount(r.hits)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
        </>
      )}
    </div>
  );
}
