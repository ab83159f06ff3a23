/** Client commands of the casparian CLI: they talk to a Sentinel over gRPC. */
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { JobState } from '../../services/gen/casparian/v1/types';
import { renderCsv, renderTable } from '../render-arrow';
import type { SentinelClient } from './client';
import { UsageError, backoffFlags, intFlag, strFlag } from './usage';
export { publish } from './publish-command';
import { jobDetail, jobsTable, parseState, pluginsTable, stateName, workersTable } from './format';
import { jobRetry } from './recovery-commands';
import { MAX_BATCH_JOBS, batchJobs, followBatches, submitBatches } from './batches';
import { ProgressView } from './progress';
import { notBeforeFlag, priorityFlag } from './queue-flags';
import { printProto, protoJsonText } from './proto-output';
import { CancelJobResponse, GetJobResponse, ListJobsResponse, ListPluginsResponse, ListWorkersResponse, SubmitJobsResponse } from '../../services/gen/casparian/v1/sentinel';

export { UsageError };

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};
const str = strFlag;


export async function submit(c: SentinelClient, args: string[], flags: Flags): Promise<number> {
  const [name, ...files] = args;
  if (!name || files.length === 0) {
    throw new UsageError('usage: casparian submit NAME FILE... [--version V] [--idempotency-key K] [--priority N] [--not-before TIME] [--wait] [--json]');
  }
  const priority = priorityFlag(flags);
  const notBefore = notBeforeFlag(flags);
  const paths = files.map((f) => path.resolve(f));
  const batches = await submitBatches(
    c,
    {
      pluginName: name,
      pluginVersion: str(flags, 'version') ?? '',
      idempotencyKey: str(flags, 'idempotency-key') ?? '',
      maxAttempts: intFlag(flags, 'max-attempts', 0),
      backoff: backoffFlags(flags),
      priority,
      notBefore,
    },
    paths,
  );
  if (!flags.wait) {
    if (flags.json) {
      // One SubmitJobsResponse per batch of at most MAX_BATCH_JOBS files, in a JSON array.
      out(`[\n${batches.map((b) => protoJsonText('SubmitJobsResponse', SubmitJobsResponse, b)).join(',\n')}\n]`);
      return 0;
    }
    for (const [b, batch] of batches.entries()) {
      batch.jobIds.forEach((id, k) => out(`${batch.created ? 'submitted' : 'existing'} ${id}  ${paths[b * MAX_BATCH_JOBS + k]}`));
    }
    return 0;
  }
  const view = new ProgressView({ tty: Boolean(process.stderr.isTTY) && !flags.json, write: (t) => void process.stderr.write(t) });
  const counts = await followBatches(
    c,
    batches.map((b) => b.batchId),
    (n) => view.update(n),
  );
  view.finish();
  const finals = (await Promise.all(batches.map((b) => batchJobs(c, b.batchId)))).flat();
  // The final jobs as one ListJobsResponse, so `.jobs[]` reads them as it reads `casparian jobs --json`.
  if (flags.json) printProto('ListJobsResponse', ListJobsResponse, { jobs: finals, nextPageToken: '' });
  else if (finals.length <= MAX_TABLE_ROWS) out(jobsTable(finals));
  else out(`${finals.length} jobs in batch${batches.length > 1 ? 'es' : ''} ${batches.map((b) => b.batchId).join(', ')}: see casparian jobs --batch ID`);
  return counts.succeeded === counts.total ? 0 : 1;
}

/** Submit --wait lists every job at the end up to this many. */
const MAX_TABLE_ROWS = 50;

export async function jobs(c: SentinelClient, flags: Flags): Promise<void> {
  const state = str(flags, 'state');
  const res = await c.listJobs({
    state: state ? parseState(state) : JobState.JOB_STATE_UNSPECIFIED,
    pluginName: str(flags, 'plugin') ?? '',
    batchId: str(flags, 'batch') ?? '',
    pageSize: intFlag(flags, 'limit', 100),
    pageToken: '',
  });
  if (flags.json) return printProto('ListJobsResponse', ListJobsResponse, res);
  out(jobsTable(res.jobs));
}

export async function job(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  if (args[0] === 'cancel') {
    if (!args[1]) throw new UsageError('usage: casparian job cancel ID [--reason TEXT]');
    const res = await c.cancelJob({ jobId: args[1], reason: str(flags, 'reason') ?? '' });
    if (flags.json) return printProto('CancelJobResponse', CancelJobResponse, res);
    return out(`${res.job!.id} ${stateName(res.job!.state)}${res.job!.state === JobState.JOB_STATE_CANCELLED ? '' : ' (cancel requested)'}`);
  }
  if (args[0] === 'retry') return jobRetry(c, args[1], flags);
  if (!args[0]) throw new UsageError('usage: casparian job ID [--json] | casparian job cancel ID | casparian job retry ID');
  const res = await c.getJob({ jobId: args[0], includeLogs: true });
  if (flags.json) return printProto('GetJobResponse', GetJobResponse, res);
  out(jobDetail(res.job!, res.logs));
}

export async function fetchOutput(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  const jobId = args[0];
  const dest = str(flags, 'out');
  const format = str(flags, 'format') ?? (dest ? undefined : 'table');
  if (!jobId || (!dest && !format)) throw new UsageError('usage: casparian fetch JOB [--output NAME] (--out FILE.parquet|FILE.arrows | --format table|csv)');
  if (format !== undefined && format !== 'table' && format !== 'csv') throw new UsageError(`--format must be table or csv, got "${format}"`);
  if (dest) {
    const { fetchToFile } = await import('./fetch-to-file');
    const info = await fetchToFile(c, jobId, str(flags, 'output') ?? '', dest);
    out(`wrote ${info?.name ?? 'output'} (${info?.rows ?? '?'} rows) to ${dest}`);
    return;
  }
  const { ipc } = await c.fetchOutput(jobId, str(flags, 'output') ?? '');
  if (format === 'csv') process.stdout.write(renderCsv(ipc));
  else if (format === 'table') out(renderTable(ipc, { maxRows: intFlag(flags, 'limit', 50) }));
  else throw new UsageError(`--format must be table or csv, got ${format}`);
}

export async function plugins(c: SentinelClient, flags: Flags): Promise<void> {
  const res = await c.listPlugins({ name: str(flags, 'name') ?? '' });
  if (flags.json) return printProto('ListPluginsResponse', ListPluginsResponse, res);
  out(pluginsTable(res.plugins));
}

export async function workers(c: SentinelClient, flags: Flags): Promise<void> {
  const res = await c.listWorkers({});
  if (flags.json) return printProto('ListWorkersResponse', ListWorkersResponse, res);
  out(workersTable(res.workers));
  if (res.dispatchPausedReason) out(`\n${res.dispatchPausedReason}`);
}
