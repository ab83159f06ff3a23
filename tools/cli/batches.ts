/** Client side of batches: submit many files in SubmitJobs calls, follow them with WatchJobs, list their jobs. */
import type { JobCounts, SubmitJobsRequest, SubmitJobsResponse } from '../../services/gen/casparian/v1/sentinel';
import type { Job } from '../../services/gen/casparian/v1/types';
import type { SentinelClient } from './client';

/** Most input paths the Sentinel takes in one SubmitJobs call. */
export const MAX_BATCH_JOBS = 10_000;

export const NO_COUNTS: Readonly<JobCounts> = Object.freeze({ total: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, deadLetter: 0 });

/**
 * Submit one job per path, in batches of at most MAX_BATCH_JOBS. With an
 * idempotency key, each batch gets `KEY` (one batch) or `KEY#i`.
 */
export async function submitBatches(c: SentinelClient, req: Omit<Partial<SubmitJobsRequest>, 'inputPaths'>, paths: string[]): Promise<SubmitJobsResponse[]> {
  const out: SubmitJobsResponse[] = [];
  const many = paths.length > MAX_BATCH_JOBS;
  for (let i = 0; i < paths.length; i += MAX_BATCH_JOBS) {
    const key = req.idempotencyKey ? (many ? `${req.idempotencyKey}#${i / MAX_BATCH_JOBS}` : req.idempotencyKey) : '';
    out.push(await c.submitJobs({ ...req, idempotencyKey: key, inputPaths: paths.slice(i, i + MAX_BATCH_JOBS) }));
  }
  return out;
}

export function addCounts(a: JobCounts, b: JobCounts): JobCounts {
  return {
    total: a.total + b.total,
    queued: a.queued + b.queued,
    running: a.running + b.running,
    succeeded: a.succeeded + b.succeeded,
    failed: a.failed + b.failed,
    cancelled: a.cancelled + b.cancelled,
    deadLetter: a.deadLetter + b.deadLetter,
  };
}

export const finalOf = (n: JobCounts): number => n.succeeded + n.failed + n.cancelled + n.deadLetter;

/**
 * Follow batches with one WatchJobs stream each until every job is final;
 * `onCounts` gets the counts summed over the batches after each event.
 */
export async function followBatches(c: SentinelClient, batchIds: string[], onCounts: (n: JobCounts) => void): Promise<JobCounts> {
  const latest = batchIds.map(() => NO_COUNTS as JobCounts);
  const sum = (): JobCounts => latest.reduce(addCounts, NO_COUNTS);
  await Promise.all(
    batchIds.map(async (batchId, i) => {
      for await (const ev of c.watchJobs({ batchId })) {
        if (!ev.counts) continue;
        latest[i] = ev.counts;
        onCounts(sum());
      }
    }),
  );
  return sum();
}

/** Every job of a batch, oldest first (pages through ListJobs). */
export async function batchJobs(c: SentinelClient, batchId: string): Promise<Job[]> {
  const out: Job[] = [];
  let pageToken = '';
  do {
    const res = await c.listJobs({ batchId, pageSize: 1000, pageToken });
    out.push(...res.jobs);
    pageToken = res.nextPageToken;
  } while (pageToken);
  return out.reverse();
}
