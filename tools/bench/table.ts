/** The bench's printed table: one line per row, figure beside reference and their ratio. */
import { fmt } from './stats';
import type { Row } from './types';

/** figure ÷ reference, or undefined when either is missing. */
export function ratioOf(row: Row): number | undefined {
  if (row.value === undefined || row.reference === undefined || row.reference === 0) return undefined;
  return row.value / row.reference;
}

function cells(row: Row): string[] {
  const arrow = row.better === 'higher' ? '↑' : '↓';
  const title = `${row.title}${row.variant ? ` [${row.variant}]` : ''} ${arrow}`;
  const figure = row.value !== undefined ? `${fmt(row.value)} ${row.unit}` : row.failed ? 'FAILED' : '—';
  const reference = row.reference !== undefined ? `${fmt(row.reference)} ${row.unit}` : (row.refMissing ?? '—');
  const ratio = ratioOf(row);
  const note = [row.failed ? `failed: ${row.failed}` : '', row.refLabel ? `ref: ${row.refLabel}` : '', row.note].filter(Boolean).join('; ');
  return [row.id, title, figure, reference.startsWith('skipped') ? 'skipped' : reference, ratio !== undefined ? `${fmt(ratio)}×` : '—', note];
}

/**
 * The table, columns aligned. ↑/↓ says whether higher or lower is better;
 * ratio is figure ÷ reference; a skipped reference's reason is in the notes.
 */
export function renderTable(rows: readonly Row[]): string {
  const head = ['#', 'measure (↑ higher / ↓ lower is better)', 'figure', 'reference', 'ratio', 'note'];
  const all = [head, ...rows.map(cells)];
  const skips = rows.filter((r) => r.refMissing?.startsWith('skipped')).map((r) => `${r.id}${r.variant ? ` [${r.variant}]` : ''}: reference ${r.refMissing}`);
  const width = head.map((_, i) => Math.max(...all.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => (i === 2 || i === 3 || i === 4 ? v.padStart(width[i]) : i === c.length - 1 ? v : v.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  return [line(all[0]), ...all.slice(1).map(line), ...skips].join('\n');
}
