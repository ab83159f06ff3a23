/**
 * `casparian outputs`: the datasets (ListDatasets); `casparian query "SQL"`:
 * DuckDB SQL over them, run by the Sentinel (Query), printed as a table, CSV or
 * JSON Lines.
 */
import type { Flags } from '../../services/common/config';
import { ListDatasetsResponse, type Dataset } from '../../services/gen/casparian/v1/sentinel';
import { printProto } from './proto-output';
import { renderCsv, renderJsonLines, renderTable } from '../render-arrow';
import type { SentinelClient } from './client';
import { table } from './format';
import { UsageError, intFlag, strFlag } from './usage';

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : s + '\n');

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The datasets as a table, then each one's schemas (most jobs first). */
export function datasetsText(ds: Dataset[]): string {
  if (ds.length === 0) return 'no datasets yet: they appear when a job commits an output';
  const rows = [['NAME', 'JOBS', 'ROWS', 'SIZE', 'SCHEMAS', 'PLUGINS', 'LAST COMMIT']];
  for (const d of ds) {
    const plugins = d.producers.map((p) => `${p.pluginName}@${p.pluginVersion}`).join(',');
    rows.push([d.name, String(d.jobs), String(d.rows), bytes(d.sizeBytes), String(d.schemas.length), plugins, d.lastCommittedAt?.toISOString() ?? '']);
  }
  const schemas = ds.map((d) => {
    const lines = d.schemas.map((s) => `  ${s.jobs} job${s.jobs === 1 ? '' : 's'}: ${s.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
    return `${d.name}:\n${lines.join('\n')}`;
  });
  return `${table(rows)}\n\n${schemas.join('\n')}`;
}

export async function outputs(c: SentinelClient, flags: Flags): Promise<void> {
  const res = await c.listDatasets({ pluginName: strFlag(flags, 'plugin') ?? '' });
  if (flags.json) return printProto('ListDatasetsResponse', ListDatasetsResponse, res);
  out(datasetsText(res.datasets));
}

const FORMATS = ['table', 'csv', 'json'] as const;

export async function query(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  const sql = args.join(' ').trim();
  if (!sql) throw new UsageError('usage: casparian query "SQL" [--format table|csv|json] [--limit N] [--timeout SECONDS]');
  const format = strFlag(flags, 'format') ?? (flags.json ? 'json' : 'table');
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be table, csv or json, got "${format}"`);
  const { ipc, summary } = await c.query({ sql, maxRows: intFlag(flags, 'limit', 0), timeoutSeconds: Math.min(300, Math.ceil(c.timeoutMs / 1000)) });
  if (format === 'csv') process.stdout.write(renderCsv(ipc));
  else if (format === 'json') process.stdout.write(renderJsonLines(ipc));
  else out(renderTable(ipc, { maxRows: Number.MAX_SAFE_INTEGER }));
  if (summary?.truncated) process.stderr.write(`note: the result was cut at ${summary.rows} rows (--limit N raises the cap, up to 1000000)\n`);
}
