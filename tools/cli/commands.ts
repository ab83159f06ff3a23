/** Client commands of the casparian CLI: they talk to a Sentinel over gRPC. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { JobEventKind } from '../../services/gen/casparian/v1/sentinel';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { renderCsv, renderTable } from '../render-arrow';
import type { SentinelClient } from './client';
import { UsageError, backoffFlags, intFlag, strFlag } from './usage';
import { jobDetail, jobsTable, parseState, pluginsTable, stateName, workersTable } from './format';
import { jobRetry } from './recovery-commands';

export { UsageError };

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};
const json = (v: unknown): void => out(JSON.stringify(v, null, 2));
const str = strFlag;

const FINAL = new Set([JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED, JobState.JOB_STATE_DEAD_LETTER]);

export async function publish(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  const file = args[0];
  const lock = str(flags, 'lockfile');
  if (!file || !lock) throw new UsageError('usage: casparian publish PLUGIN.py --lockfile FILE [--name NAME] [--version V] [--description TEXT] [--env-allow A,B]');
  const res = await c.publishPlugin({
    name: str(flags, 'name') ?? path.basename(file).replace(/\.py$/, ''),
    version: str(flags, 'version') ?? '0.1.0',
    source: fs.readFileSync(file, 'utf8'),
    lockfile: fs.readFileSync(lock, 'utf8'),
    manifest: {
      description: str(flags, 'description') ?? '',
      envAllow: (str(flags, 'env-allow') ?? '').split(',').filter(Boolean),
      timeouts: undefined,
      maxAttempts: intFlag(flags, 'max-attempts', 0),
      limits: {
        memoryMb: intFlag(flags, 'max-memory-mb', 0),
        cpuSeconds: intFlag(flags, 'max-cpu-seconds', 0),
        openFiles: intFlag(flags, 'max-open-files', 0),
      },
      backoff: backoffFlags(flags),
      isolation: str(flags, 'isolation') ?? '',
    },
  });
  if (flags.json) return json(res);
  const p = res.plugin!;
  out(`${res.created ? 'published' : 'already published'} ${p.name}@${p.version}  env ${p.envHash.slice(0, 12)}  artifact ${p.artifactHash.slice(0, 12)}`);
}

export async function submit(c: SentinelClient, args: string[], flags: Flags): Promise<number> {
  const [name, ...files] = args;
  if (!name || files.length === 0) throw new UsageError('usage: casparian submit NAME FILE... [--version V] [--idempotency-key K] [--wait] [--json]');
  const jobs: Job[] = [];
  for (const f of files) {
    const key = str(flags, 'idempotency-key');
    const res = await c.submitJob({
      pluginName: name,
      pluginVersion: str(flags, 'version') ?? '',
      inputPath: path.resolve(f),
      idempotencyKey: key ? (files.length > 1 ? `${key}:${path.resolve(f)}` : key) : '',
      maxAttempts: intFlag(flags, 'max-attempts', 0),
      timeouts: undefined,
      backoff: backoffFlags(flags),
    });
    jobs.push(res.job!);
    if (!flags.json && !flags.wait) out(`${res.created ? 'submitted' : 'existing'} ${res.job!.id}  ${res.job!.inputPath}`);
  }
  if (!flags.wait) {
    if (flags.json) json(jobs);
    return 0;
  }
  const finals = await Promise.all(jobs.map((j) => waitJob(c, j.id, !flags.json)));
  if (flags.json) json(finals);
  else out(jobsTable(finals));
  return finals.every((j) => j.state === JobState.JOB_STATE_SUCCEEDED) ? 0 : 1;
}

/** Follow a job with WatchJob until it is final, printing progress lines when `verbose`. */
export async function waitJob(c: SentinelClient, jobId: string, verbose: boolean): Promise<Job> {
  let last: Job | undefined;
  for await (const ev of c.watchJob(jobId)) {
    last = ev.job;
    if (!verbose || !ev.job) continue;
    const short = jobId.slice(0, 8);
    if (ev.kind === JobEventKind.JOB_EVENT_KIND_STATE) out(`${short} ${stateName(ev.job.state)}${ev.job.waitingReason ? ` (${ev.job.waitingReason})` : ''}`);
    else if (ev.kind === JobEventKind.JOB_EVENT_KIND_PROGRESS && ev.progress) out(`${short} progress ${ev.progress.rows} rows ${ev.progress.message}`);
    else if (ev.kind === JobEventKind.JOB_EVENT_KIND_LOG && ev.log && ev.log.source === 'env') out(`${short} env: ${ev.log.message}`);
  }
  if (!last || !FINAL.has(last.state)) last = (await c.getJob({ jobId, includeLogs: false })).job!;
  return last;
}

export async function jobs(c: SentinelClient, flags: Flags): Promise<void> {
  const state = str(flags, 'state');
  const res = await c.listJobs({
    state: state ? parseState(state) : JobState.JOB_STATE_UNSPECIFIED,
    pluginName: str(flags, 'plugin') ?? '',
    pageSize: intFlag(flags, 'limit', 100),
    pageToken: '',
  });
  if (flags.json) return json(res);
  out(jobsTable(res.jobs));
}

export async function job(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  if (args[0] === 'cancel') {
    if (!args[1]) throw new UsageError('usage: casparian job cancel ID [--reason TEXT]');
    const res = await c.cancelJob({ jobId: args[1], reason: str(flags, 'reason') ?? '' });
    if (flags.json) return json(res);
    return out(`${res.job!.id} ${stateName(res.job!.state)}${res.job!.state === JobState.JOB_STATE_CANCELLED ? '' : ' (cancel requested)'}`);
  }
  if (args[0] === 'retry') return jobRetry(c, args[1], flags);
  if (!args[0]) throw new UsageError('usage: casparian job ID [--json] | casparian job cancel ID | casparian job retry ID');
  const res = await c.getJob({ jobId: args[0], includeLogs: true });
  if (flags.json) return json(res);
  out(jobDetail(res.job!, res.logs));
}

export async function fetchOutput(c: SentinelClient, args: string[], flags: Flags): Promise<void> {
  const jobId = args[0];
  const dest = str(flags, 'out');
  const format = str(flags, 'format') ?? (dest ? undefined : 'table');
  if (!jobId || (!dest && !format)) throw new UsageError('usage: casparian fetch JOB [--output NAME] (--out FILE.parquet|FILE.arrows | --format table|csv)');
  if (format !== undefined && format !== 'table' && format !== 'csv') throw new UsageError(`--format must be table or csv, got "${format}"`);
  const { ipc, info } = await c.fetchOutput(jobId, str(flags, 'output') ?? '');
  if (dest) {
    if (dest.endsWith('.parquet')) {
      const { ipcToParquet } = await import('./parquet-out');
      fs.writeFileSync(dest, ipcToParquet(ipc));
    } else {
      fs.writeFileSync(dest, ipc);
    }
    out(`wrote ${info?.name ?? 'output'} (${info?.rows ?? '?'} rows) to ${dest}`);
    return;
  }
  if (format === 'csv') process.stdout.write(renderCsv(ipc));
  else if (format === 'table') out(renderTable(ipc, { maxRows: intFlag(flags, 'limit', 50) }));
  else throw new UsageError(`--format must be table or csv, got ${format}`);
}

export async function plugins(c: SentinelClient, flags: Flags): Promise<void> {
  const res = await c.listPlugins({ name: str(flags, 'name') ?? '' });
  if (flags.json) return json(res);
  out(pluginsTable(res.plugins));
}

export async function workers(c: SentinelClient, flags: Flags): Promise<void> {
  const res = await c.listWorkers({});
  if (flags.json) return json(res);
  out(workersTable(res.workers));
}
