/**
 * How the bench puts jobs in the queue and waits for them: many jobs as one
 * batch (SubmitJobs, followed on one WatchJobs stream, as `casparian submit
 * --wait` does), single jobs with SubmitJob and a cheap GetJob poll.
 */
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import type { SentinelClient } from '../cli/client';
import { batchJobs, followBatches, submitBatches } from '../cli/batches';
import { sleep } from './stats';

/** How many-job rows submit, for notes. */
export const SUBMIT_METHOD = 'one SubmitJobs call, followed on one WatchJobs stream';

/** Submits one job (SubmitJob): for rows that time a single job from its creation. */
export const submitOne = (client: SentinelClient, plugin: string, inputPath: string): Promise<Job> =>
  client.submitJob({ pluginName: plugin, inputPath, maxAttempts: 1 }).then((r) => r.job!);

/** Submits one job per input (one attempt each) as one batch (SubmitJobs per 10,000); resolves to the batch ids and job ids in input order. */
export async function submitJobs(client: SentinelClient, plugin: string, inputs: readonly string[]): Promise<{ batchIds: string[]; jobIds: string[] }> {
  const batches = await submitBatches(client, { pluginName: plugin, maxAttempts: 1 }, [...inputs]);
  return { batchIds: batches.map((b) => b.batchId), jobIds: batches.flatMap((b) => b.jobIds) };
}

/** Follows the batches on WatchJobs until every job is final, then returns their jobs. Fails when one did not succeed. */
export async function waitBatches(client: SentinelClient, batchIds: string[]): Promise<Job[]> {
  await followBatches(client, batchIds, () => undefined);
  const jobs = (await Promise.all(batchIds.map((id) => batchJobs(client, id)))).flat();
  const bad = jobs.find((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
  if (bad) throw new Error(`job ${bad.id} ended ${JobState[bad.state]}: ${bad.error?.code ?? ''} ${bad.error?.message ?? ''}`.trim());
  return jobs;
}

const UNFINISHED = [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_DISPATCHED, JobState.JOB_STATE_RUNNING];

/** Polls one job until it is final; fails when it did not succeed. */
export async function waitJob(client: SentinelClient, jobId: string, timeoutMs: number, pollMs = 20): Promise<Job> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const job = (await client.getJob({ jobId, includeLogs: false })).job!;
    if (!UNFINISHED.includes(job.state)) {
      if (job.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`job ${jobId} ended ${JobState[job.state]}: ${job.error?.code ?? ''} ${job.error?.message ?? ''}`);
      return job;
    }
    if (Date.now() > end) throw new Error(`job ${jobId} unfinished after ${timeoutMs / 1000} s`);
    await sleep(pollMs);
  }
}

/** The time a job reached its final state, in ms since the epoch (Sentinel clock). */
export const finishedMs = (j: Job): number => j.finishedAt!.getTime();
export const createdMs = (j: Job): number => j.createdAt!.getTime();
