/** Small number helpers for the bench: quantiles, units, timers. */

/** Bytes in a MB as the bench reports it (SI: 10^6). */
export const MB = 1e6;

/** The q-quantile (0..1) of the samples, nearest rank; NaN for none. p99 of 100 samples is the 99th smallest. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length - 1e-9) - 1));
  return sorted[rank];
}

export const median = (s: readonly number[]): number => quantile(s, 0.5);

/** A number with about three significant digits: 1234 → "1234", 12.345 → "12.3", 0.01234 → "0.0123". */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Wall clock in ms with sub-ms resolution, comparable with Python's time.time() * 1000. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves the promise and returns [value, elapsed ms]. */
export async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
