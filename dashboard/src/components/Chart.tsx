/** Hand-written SVG charts: time series lines/areas and horizontal bars. */
import { useState, type ReactNode } from "react";
import { formatAxisTime, formatCount, formatTime } from "../format.ts";

export interface Series {
  name: string;
  cls: string;
  values: (number | null)[];
}

const W = 520;
const H = 190;
const PAD = { l: 40, r: 10, t: 10, b: 22 };

function niceMax(v: number): number {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function TimeChart(props: { title: string; times: number[]; series: Series[]; unit?: string; area?: boolean }): ReactNode {
  const { times, series } = props;
  const [hover, setHover] = useState<number | null>(null);
  const n = times.length;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i: number) => PAD.l + (n <= 1 ? iw / 2 : (i / (n - 1)) * iw);
  const y = (v: number) => PAD.t + ih - (v / max) * ih;
  const span = n > 1 ? times[n - 1]! - times[0]! : 0;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const xTicks = n > 1 ? [0, Math.floor((n - 1) / 4), Math.floor((n - 1) / 2), Math.floor((3 * (n - 1)) / 4), n - 1] : [0];

  const path = (vals: (number | null)[]) => {
    let d = "";
    let pen = false;
    vals.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };

  return (
    <figure className="chart">
      <figcaption>
        <span>{props.title}</span>
        <span className="legend">
          {series.map((s) => (
            <span key={s.name} className={`key ${s.cls}`}>
              {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      {n === 0 ? (
        <div className="empty">no data in this range</div>
      ) : (
        <svg
          viewBox={`0 0 ${W} ${H}`}
          role="img"
          aria-label={props.title}
          onMouseMove={(e) => {
            const r = e.currentTarget.getBoundingClientRect();
            const px = ((e.clientX - r.left) / r.width) * W;
            const i = n <= 1 ? 0 : Math.round(((px - PAD.l) / iw) * (n - 1));
            setHover(i >= 0 && i < n ? i : null);
          }}
          onMouseLeave={() => setHover(null)}
        >
          {ticks.map((t) => (
            <g key={t} className="grid-line">
              <line x1={PAD.l} x2={W - PAD.r} y1={y(t)} y2={y(t)} />
              <text x={PAD.l - 6} y={y(t) + 4} textAnchor="end">
                {max >= 1000 ? `${(t / 1000).toFixed(1)}k` : Number.isInteger(t) ? t : t.toFixed(1)}
              </text>
            </g>
          ))}
          {xTicks.map((i) => (
            <text key={i} className="axis" x={x(i)} y={H - 6} textAnchor={i === 0 ? "start" : i === n - 1 ? "end" : "middle"}>
              {formatAxisTime(times[i]!, span)}
            </text>
          ))}
          {series.map((s) => (
            <g key={s.name} className={`series ${s.cls}`}>
              {props.area && <path className="area" d={`${path(s.values)}L${x(n - 1)},${y(0)}L${x(0)},${y(0)}Z`} />}
              <path className="line" d={path(s.values)} />
              {s.values.map((v, i) =>
                v !== null && (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null ? <circle key={i} className="dot" cx={x(i)} cy={y(v)} r={2.5} /> : null,
              )}
            </g>
          ))}
          {hover !== null && (
            <g className="hover">
              <line x1={x(hover)} x2={x(hover)} y1={PAD.t} y2={PAD.t + ih} />
              {series.map((s) => (s.values[hover] !== null && s.values[hover] !== undefined ? <circle key={s.name} className={s.cls} cx={x(hover)} cy={y(s.values[hover]!)} r={3} /> : null))}
            </g>
          )}
        </svg>
      )}
      <div className="chart-readout mono small">
        {hover !== null && times[hover] !== undefined
          ? `${formatTime(times[hover]!)} · ${series.map((s) => `${s.name} ${s.values[hover] === null ? "—" : formatCount(s.values[hover]!)}${props.unit ?? ""}`).join(" · ")}`
          : " "}
      </div>
    </figure>
  );
}

export function Bars(props: { rows: { key: string; value: number; bad?: number }[] }): ReactNode {
  const max = Math.max(1, ...props.rows.map((r) => r.value));
  return (
    <div className="bars">
      {props.rows.map((r) => (
        <div key={r.key} className="bar-row">
          <span className="mono ellipsis" title={r.key}>
            {r.key}
          </span>
          <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
            <rect className="bar" x={0} y={1} height={8} width={(r.value / max) * 100} />
            {r.bad ? <rect className="bar bad" x={0} y={1} height={8} width={(r.bad / max) * 100} /> : null}
          </svg>
          <span className="num mono">{formatCount(r.value)}</span>
        </div>
      ))}
    </div>
  );
}
