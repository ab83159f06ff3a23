/**
 * Throughput: jobs finished per minute by outcome (GetThroughput), drawn as
 * stacked SVG bars. A hand-drawn chart rather than a library: one bar series
 * of at most a few hundred buckets needs no zoom, cursor sync or canvas
 * renderer, and ~100 lines of SVG cost far less than a chart bundle.
 */
import { useState } from 'preact/hooks';
import { call } from '../api/client';
import type { ThroughputBucket } from '../api/types';
import { ErrorBox } from '../components/error-box';
import { useLoad } from '../use-api';

const SERIES: { key: keyof Omit<ThroughputBucket, 'start'>; label: string }[] = [
  { key: 'succeeded', label: 'succeeded' },
  { key: 'failed', label: 'failed' },
  { key: 'deadLetter', label: 'dead letter' },
  { key: 'cancelled', label: 'cancelled' },
];
const W = 760;
const H = 220;
const M = { left: 36, right: 8, top: 8, bottom: 24 };

function niceMax(n: number): number {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((k) => k * p).find((v) => v >= n) ?? n;
}

function hhmm(ts: string | undefined): string {
  const d = new Date(ts ?? '');
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
}

export function Chart({ buckets }: { buckets: ThroughputBucket[] }) {
  const totals = buckets.map((b) => SERIES.reduce((n, s) => n + (b[s.key] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const bw = plotW / Math.max(buckets.length, 1);
  const y = (v: number): number => M.top + plotH - (v / max) * plotH;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Jobs finished per minute by outcome">
      {[0, max / 2, max].map((v) => (
        <g key={v}>
          <line x1={M.left} x2={W - M.right} y1={y(v)} y2={y(v)} class="gridline" />
          <text x={M.left - 4} y={y(v) + 4} text-anchor="end">
            {v}
          </text>
        </g>
      ))}
      {buckets.map((b, i) => {
        let acc = 0;
        return (
          <g key={b.start} data-bucket={b.start} data-total={totals[i]}>
            <title>{`${hhmm(b.start)}: ${SERIES.map((s) => `${b[s.key] ?? 0} ${s.label}`).join(', ')}`}</title>
            {SERIES.map((s) => {
              const v = b[s.key] ?? 0;
              if (!v) return null;
              const top = y(acc + v);
              const bottom = y(acc);
              acc += v;
              return <rect key={s.key} class={`bar-${s.key}`} x={M.left + i * bw + 0.5} width={Math.max(bw - 1, 1)} y={top} height={bottom - top} />;
            })}
            {i % labelEvery === 0 && (
              <text x={M.left + i * bw + bw / 2} y={H - 6} text-anchor="middle">
                {hhmm(b.start)}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

export function ThroughputPage() {
  const [minutes, setMinutes] = useState(60);
  const [plugin, setPlugin] = useState('');
  const res = useLoad(() => call('GetThroughput', { minutes, pluginName: plugin || undefined }), [minutes, plugin], 30_000);
  const buckets = res.data?.buckets ?? [];
  return (
    <div>
      <h2>Throughput</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Window
          <select value={String(minutes)} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
            {[15, 60, 180, 360, 1440].map((m) => (
              <option key={m} value={m}>
                {m < 120 ? `${m} min` : `${m / 60} h`}
              </option>
            ))}
          </select>
        </label>
        <label>
          Plugin
          <input value={plugin} placeholder="any" onChange={(e) => setPlugin(e.currentTarget.value.trim())} />
        </label>
      </form>
      <ErrorBox error={res.error} title="GetThroughput" />
      <div class="legend">
        {SERIES.map((s) => (
          <span key={s.key} data-series={s.key}>
            <i class={`swatch bar-${s.key}`} /> {s.label}: <b>{buckets.reduce((n, b) => n + (b[s.key] ?? 0), 0)}</b>
          </span>
        ))}
        <span class="muted">jobs finished per minute, last {minutes} min</span>
      </div>
      {res.data && <Chart buckets={buckets} />}
    </div>
  );
}
