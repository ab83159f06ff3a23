/**
 * casparian scan ROOT --plugin NAME [--glob G]: one SubmitScan call (a live
 * counter while the Sentinel walks, then a summary), optionally followed with
 * WatchJobs (--wait), or repeated whenever the tree changes (--watch).
 */
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import type { JsonObject } from '@bufbuild/protobuf';
import { toProtoJson } from '../../services/common/proto-json';
import { JobCounts, SubmitScanResponse, type SubmitScanRequest } from '../../services/gen/casparian/v1/sentinel';
import type { SentinelClient } from './client';
import { batchJobs, followBatches } from './batches';
import { jobsTable } from './format';
import { ProgressView } from './progress';
import { notBeforeFlag, priorityFlag } from './queue-flags';
import { ScanProgressView, scanSummary } from './scan-progress';
import { watchScans } from './scan-watch';
import { backoffFlags, intFlag, strFlag, UsageError } from './usage';

const USAGE =
  'usage: casparian scan ROOT --plugin NAME [--glob G] [--version V] [--max-attempts N] [--priority N] [--not-before TIME] [--wait | --watch [--debounce-ms N]] [--json]';

/** --wait lists every job at the end up to this many (as submit --wait). */
const MAX_TABLE_ROWS = 50;

const stdout = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const stderr = (s: string): void => void process.stderr.write(s);

/**
 * What --json prints for one scan: its final SubmitScanResponse in canonical
 * proto3 JSON (fields at zero left out); after --wait, with the batch's final
 * JobCounts (from WatchJobs) as `counts`.
 */
export function scanJson(s: SubmitScanResponse, counts?: JobCounts): JsonObject {
  const json = toProtoJson('casparian.v1.SubmitScanResponse', SubmitScanResponse, s) as JsonObject;
  return counts ? { ...json, counts: toProtoJson('casparian.v1.JobCounts', JobCounts, counts) } : json;
}

/** One SubmitScan call to its summary, with the live counter on stderr unless `quiet`. */
export async function scanOnce(c: SentinelClient, req: Partial<SubmitScanRequest>, o: { tty: boolean; signal?: AbortSignal }): Promise<SubmitScanResponse> {
  const view = new ScanProgressView(req.root ?? '', { tty: o.tty, write: stderr });
  let last: SubmitScanResponse | undefined;
  try {
    for await (const m of c.submitScan(req, o.signal)) {
      last = m;
      if (!m.done) view.update(m);
    }
  } finally {
    view.finish();
  }
  if (!last?.done) throw new Error('the scan stream ended without a summary');
  return last;
}

export async function scan(c: SentinelClient, args: string[], flags: Flags): Promise<number> {
  const [rootArg, ...rest] = args;
  const plugin = strFlag(flags, 'plugin');
  if (!rootArg || rest.length || !plugin) throw new UsageError(USAGE);
  if (flags.wait && flags.watch) throw new UsageError('--wait and --watch do not go together: --watch keeps scanning until Ctrl-C');
  const root = path.resolve(rootArg);
  const debounceMs = intFlag(flags, 'debounce-ms', 500);
  priorityFlag(flags); // usage errors before any call
  notBeforeFlag(flags);
  // Relative --not-before (+10m) counts from each scan.
  const request = (): Partial<SubmitScanRequest> => ({
    root,
    glob: strFlag(flags, 'glob') ?? '',
    pluginName: plugin,
    pluginVersion: strFlag(flags, 'version') ?? '',
    maxAttempts: intFlag(flags, 'max-attempts', 0),
    backoff: backoffFlags(flags),
    priority: priorityFlag(flags),
    notBefore: notBeforeFlag(flags),
  });
  const tty = Boolean(process.stderr.isTTY) && !flags.json;
  const report = (s: SubmitScanResponse, compact: boolean): void => {
    if (flags.json) stdout(JSON.stringify(scanJson(s), null, compact ? undefined : 2));
    else stdout(scanSummary(root, s));
    if (!flags.json) for (const e of s.errorFiles) stderr(`  cannot scan ${e.path}: ${e.message}\n`);
    if (!flags.json && s.errors > s.errorFiles.length) stderr(`  … and ${s.errors - s.errorFiles.length} more\n`);
  };

  if (flags.watch) {
    return watchScans({ root, debounceMs, scan: (signal) => scanOnce(c, request(), { tty, signal }), report: (s) => report(s, true), error: (e) => stderr(`error: ${e}\n`) });
  }
  const summary = await scanOnce(c, request(), { tty });
  if (!flags.wait || !summary.batchId) {
    report(summary, false);
    return summary.interrupted ? 1 : 0;
  }
  if (!flags.json) report(summary, false);
  const view = new ProgressView({ tty, write: stderr });
  const counts = await followBatches(c, [summary.batchId], (n) => view.update(n));
  view.finish();
  if (flags.json) stdout(JSON.stringify(scanJson(summary, counts), null, 2));
  else {
    const jobs = counts.total <= MAX_TABLE_ROWS ? await batchJobs(c, summary.batchId) : [];
    stdout(jobs.length ? jobsTable(jobs) : `${counts.total} jobs: ${counts.succeeded} succeeded; see casparian jobs --batch ${summary.batchId}`);
  }
  return counts.succeeded === counts.total && !summary.interrupted ? 0 : 1;
}
