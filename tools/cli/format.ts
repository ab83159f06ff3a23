/** Human-readable rendering of jobs, plugins and workers for the CLI. */
import { UsageError } from './usage';
import { ErrorClass, JobState, type Job, type JobLog, type Plugin, type WorkerInfo } from '../../services/gen/casparian/v1/types';

export function stateName(s: JobState): string {
  return (JobState[s] ?? 'UNKNOWN').replace('JOB_STATE_', '').toLowerCase();
}

export function errorClassName(c: ErrorClass): string {
  return (ErrorClass[c] ?? 'UNKNOWN').replace('ERROR_CLASS_', '').toLowerCase();
}

export function parseState(s: string): JobState {
  const v = (JobState as unknown as Record<string, number>)[`JOB_STATE_${s.toUpperCase()}`];
  if (v === undefined || v === JobState.JOB_STATE_UNSPECIFIED) {
    throw new UsageError(`unknown state "${s}"; use queued, dispatched, running, succeeded, failed, cancelled or dead_letter`);
  }
  return v;
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** The jobs as a table; PRIORITY and NOT BEFORE columns appear only when some job has one set. */
export function jobsTable(jobs: Job[]): string {
  const withPriority = jobs.some((j) => j.priority !== 0);
  const withNotBefore = jobs.some((j) => j.notBefore);
  const optional = (j: Job): string[] => [
    ...(withPriority ? [String(j.priority)] : []),
    ...(withNotBefore ? [j.notBefore?.toISOString() ?? ''] : []),
  ];
  return table([
    ['ID', 'PLUGIN', 'STATE', 'ATTEMPT', ...(withPriority ? ['PRIORITY'] : []), ...(withNotBefore ? ['NOT BEFORE'] : []), 'ROWS', 'INPUT'],
    ...jobs.map((j) => [
      j.id,
      `${j.pluginName}@${j.pluginVersion}`,
      stateName(j.state) + (j.error && j.state !== JobState.JOB_STATE_SUCCEEDED ? ` (${j.error.code})` : '') + (j.partial ? ` (partial: ${j.quarantinedRows} quarantined)` : ''),
      `${j.attempt}/${j.maxAttempts}`,
      ...optional(j),
      String(j.metrics?.rows ?? ''),
      j.inputPath,
    ]),
  ]);
}

export function jobDetail(j: Job, logs: JobLog[]): string {
  const lines = [
    `job        ${j.id}`,
    `plugin     ${j.pluginName}@${j.pluginVersion}  (env ${j.envHash.slice(0, 12)})`,
    `input      ${j.inputPath}`,
    `state      ${stateName(j.state)}${j.waitingReason ? `  — ${j.waitingReason}` : ''}${j.state === JobState.JOB_STATE_DEAD_LETTER ? `  — attempts exhausted; replay with casparian job retry ${j.id}` : ''}`,
    `attempt    ${j.attempt} of ${j.maxAttempts}${j.workerId ? `  on ${j.workerId}` : ''}`,
    `created    ${j.createdAt?.toISOString() ?? ''}`,
  ];
  if (j.priority !== 0) lines.push(`priority   ${j.priority}`);
  if (j.notBefore) lines.push(`not before ${j.notBefore.toISOString()}`);
  if (j.finishedAt) lines.push(`finished   ${j.finishedAt.toISOString()}`);
  if (j.traceparent) lines.push(`trace      ${j.traceparent}`);
  if (j.partial) lines.push(`partial    ${j.quarantinedRows} rows quarantined, within the plugin's limits (the *_quarantine outputs hold them, with _cf_reason and _cf_source_row)`);
  if (j.metrics) {
    const m = j.metrics;
    lines.push(`metrics    ${m.rows} rows, ${m.durationMs} ms${m.envProvisioned ? `, env provisioned in ${m.envMs} ms` : ''}, ${m.arrowBytes} Arrow bytes`);
  }
  for (const d of j.sinkDeliveries ?? []) lines.push(`sink       ${d.output} → ${d.sink}: ${d.state}${d.error ? ` (${d.error})` : ''}`);
  for (const o of j.outputs) {
    lines.push(`output     ${o.name}: ${o.rows} rows, ${o.sizeBytes} bytes parquet — ${o.columns.map((c) => `${c.name}:${c.type}`).join(', ')}`);
  }
  if (j.error) {
    lines.push(`error      [${errorClassName(j.error.errorClass)}/${j.error.code}${j.error.retryable ? ', retryable' : ''}] ${j.error.message}`);
    if (j.error.traceback) lines.push('', j.error.traceback.trimEnd());
  }
  if (logs.length) {
    lines.push('', 'logs:');
    for (const l of logs) lines.push(`  #${l.attempt} ${l.time?.toISOString().slice(11, 23) ?? ''} ${l.source}/${l.level}: ${l.message}`);
  }
  return lines.join('\n');
}

/** "active", or "paused (REASON)" while the circuit breaker holds the version. */
export function pluginStatus(p: Plugin): string {
  return p.paused ? `paused (${p.pausedReason || 'paused'})` : 'active';
}

export function pluginsTable(ps: Plugin[]): string {
  const rows = table([
    ['NAME', 'VERSION', 'ENV', 'ARTIFACT', 'SIGNED BY', 'PUBLISHED', 'FAILURES', 'STATUS', 'OUTPUTS'],
    ...ps.map((p) => [
      p.name,
      p.version,
      p.envHash.slice(0, 12),
      p.artifactHash.slice(0, 12),
      p.signingKeyId || 'unsigned',
      p.createdAt?.toISOString() ?? '',
      String(p.consecutiveFailures),
      pluginStatus(p),
      p.contracts.filter((c) => c.columns.length).map((c) => c.output).join(',') || '-',
    ]),
  ]);
  const declared = ps.filter((p) => p.contracts.length);
  if (!declared.length) return rows;
  const lines = ['', 'contracts (OUTPUTS; "!" = not nullable):'];
  for (const p of declared) {
    for (const c of p.contracts) {
      const cols = c.columns.length ? c.columns.map((col) => `${col.name} ${col.type}${col.nullable ? '' : '!'}`).join(', ') : '(no columns declared)';
      const limit = `quarantine ≤ ${+(c.maxQuarantineFraction * 100).toFixed(2)}%${c.maxQuarantineRows ? ` and ≤ ${c.maxQuarantineRows} rows` : ''}`;
      lines.push(`  ${p.name}@${p.version} ${c.output}: ${cols}  [${limit}]`);
    }
  }
  return rows + '\n' + lines.join('\n');
}

/** Workers, one line each; with replicas, a REPLICA column names the Sentinel replica holding each one's stream. */
export function workersTable(ws: WorkerInfo[]): string {
  const replicas = ws.some((w) => w.sentinelReplica);
  return table([
    ['WORKER', 'HOST', 'SLOTS', 'BUSY', 'MODE', ...(replicas ? ['REPLICA'] : []), 'ENVS'],
    ...ws.map((w) => [
      w.workerId,
      w.hostname,
      String(w.slots),
      String(w.busySlots),
      w.envMode,
      ...(replicas ? [w.sentinelReplica] : []),
      w.envs.map((e) => `${e.envHash.slice(0, 12)}(${e.status})`).join(' '),
    ]),
  ]);
}
