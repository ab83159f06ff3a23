/**
 * How the bench puts jobs in the queue and waits for them. Submission is one
 * function, so a bulk RPC (SubmitJobs) can replace concurrent SubmitJob calls
 * without touching any row. Waiting polls with cheap calls (one job per
 * non-final state) so that watching does not load the Sentinel it measures.
 */
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import type { SentinelClient } from '../cli/client';
import { sleep } from './stats';

/** SubmitJob calls in flight at once. */
export const SUBMIT_IN_FLIGHT = 32;

/** How jobs are submitted today, for notes: "32 concurrent SubmitJob". */
export const SUBMIT_METHOD = `${SUBMIT_IN_FLIGHT} concurrent SubmitJob`;

const submitOne = (client: SentinelClient, plugin: string, inputPath: string): Promise<Job> =>
  client
    .submitJob({ pluginName: plugin, pluginVersion: '', inputPath, idempotencyKey: '', maxAttempts: 1, timeouts: undefined })
    .then((r) => r.job!);

/** Submits one job per input (one attempt each); resolves to the jobs, in input order. */
export async function submitJobs(client: SentinelClient, plugin: string, inputs: readonly string[]): Promise<Job[]> {
  const jobs: Job[] = new Array(inputs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      jobs[i] = await submitOne(client, plugin, inputs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBMIT_IN_FLIGHT, inputs.length) }, lane));
  return jobs;
}

const UNFINISHED = [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_DISPATCHED, JobState.JOB_STATE_RUNNING];

/** Every job of a plugin (pages through ListJobs). */
export async function listJobs(client: SentinelClient, pluginName: string): Promise<Job[]> {
  const out: Job[] = [];
  let pageToken = '';
  do {
    const res = await client.listJobs({ state: JobState.JOB_STATE_UNSPECIFIED, pluginName, pageSize: 1000, pageToken });
    out.push(...res.jobs);
    pageToken = res.nextPageToken;
  } while (pageToken);
  return out;
}

/**
 * Waits until no job of the plugin is queued, dispatched or running (all were
 * submitted before), then returns them all. Fails when one did not succeed.
 */
export async function waitJobs(client: SentinelClient, pluginName: string, timeoutMs: number, pollMs = 250): Promise<Job[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const pending = await Promise.all(UNFINISHED.map((state) => client.listJobs({ state, pluginName, pageSize: 1, pageToken: '' })));
    if (pending.every((p) => p.jobs.length === 0)) break;
    if (Date.now() > end) throw new Error(`${pluginName}: jobs still unfinished after ${timeoutMs / 1000} s`);
    await sleep(pollMs);
  }
  const jobs = await listJobs(client, pluginName);
  const bad = jobs.find((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
  if (bad) throw new Error(`job ${bad.id} of ${pluginName} ended ${JobState[bad.state]}: ${bad.error?.code ?? ''} ${bad.error?.message ?? ''}`.trim());
  return jobs;
}

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
