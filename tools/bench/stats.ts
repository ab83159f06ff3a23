/** Small number helpers for the bench: percentiles and formatting. */

/** The q-quantile (0..1) of the samples, nearest-rank; NaN for none. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export const median = (s: number[]): number => quantile(s, 0.5);
export const p95 = (s: number[]): number => quantile(s, 0.95);

export function ms(n: number): string {
  return n >= 100 ? `${n.toFixed(0)} ms` : `${n.toFixed(1)} ms`;
}

export function secs(msValue: number): string {
  return `${(msValue / 1000).toFixed(1)} s`;
}

/** Whole-run timer helper: resolves the promise and returns [value, elapsed ms]. */
export async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
}

/** One line of the final table. */
export interface Figure {
  part: string;
  what: string;
  value: string;
  note?: string;
}

export function renderTable(rows: Figure[]): string {
  const head: Figure = { part: 'PART', what: 'MEASURE', value: 'VALUE', note: 'NOTE' };
  const all = [head, ...rows];
  const w = (k: keyof Figure) => Math.max(...all.map((r) => (r[k] ?? '').length));
  const [a, b, c] = [w('part'), w('what'), w('value')];
  return all.map((r) => `${r.part.padEnd(a)}  ${r.what.padEnd(b)}  ${r.value.padStart(c)}  ${r.note ?? ''}`.trimEnd()).join('\n');
}
