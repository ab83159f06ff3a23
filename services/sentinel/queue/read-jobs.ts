import { LEASED_STATES, type JobStateName } from '../db/schema';
import type { Db } from '../db/open-database';
import type { BatchRow, JobRow, OutputRow } from './types';

export async function getJob(db: Db, jobId: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
}

/** Jobs newest first; `beforeSeq` pages backwards. */
export async function listJobs(
  db: Db,
  filter: { state?: JobStateName; pluginName?: string; batchId?: string; limit: number; beforeSeq?: number },
): Promise<JobRow[]> {
  let q = db.selectFrom('jobs').selectAll();
  if (filter.state) q = q.where('state', '=', filter.state);
  if (filter.pluginName) q = q.where('plugin_name', '=', filter.pluginName);
  if (filter.batchId) q = q.where('batch_id', '=', filter.batchId);
  if (filter.beforeSeq !== undefined) q = q.where('seq', '<', filter.beforeSeq);
  return q.orderBy('seq', 'desc').limit(filter.limit).execute();
}

export async function getOutputs(db: Db, jobId: string): Promise<OutputRow[]> {
  return db.selectFrom('outputs').selectAll().where('job_id', '=', jobId).orderBy('name').execute();
}

/** Outputs of several jobs in one query, grouped by job id. */
export async function getOutputsOf(db: Db, jobIds: string[]): Promise<Map<string, OutputRow[]>> {
  const byJob = new Map<string, OutputRow[]>();
  if (jobIds.length === 0) return byJob;
  for (const o of await db.selectFrom('outputs').selectAll().where('job_id', 'in', jobIds).orderBy('name').execute()) {
    const list = byJob.get(o.job_id) ?? [];
    list.push(o);
    byJob.set(o.job_id, list);
  }
  return byJob;
}

/** Every committed output directory (for cleaning orphans at startup). */
export async function listOutputPaths(db: Db): Promise<string[]> {
  return (await db.selectFrom('outputs').select('parquet_path').execute()).map((r) => r.parquet_path);
}

export async function countByState(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('jobs')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/** Attempts the database says a worker holds (dispatched or running). */
export async function listLeasedByWorker(db: Db, workerId: string): Promise<JobRow[]> {
  return db.selectFrom('jobs').selectAll().where('worker_id', '=', workerId).where('state', 'in', LEASED_STATES).execute();
}

export async function getBatch(db: Db, batchId: string): Promise<BatchRow | undefined> {
  return db.selectFrom('batches').selectAll().where('id', '=', batchId).executeTakeFirst();
}

/** The state of every job of a batch. */
export async function batchStates(db: Db, batchId: string): Promise<{ id: string; state: JobStateName }[]> {
  return db.selectFrom('jobs').select(['id', 'state']).where('batch_id', '=', batchId).execute();
}

/** The attempts that hold a lease now (of `jobIds` only, if given), as `{jobId}/attempt-{n}` (what the output sweeps must keep). */
export async function listLeasedAttempts(db: Db, jobIds?: readonly string[]): Promise<Set<string>> {
  if (jobIds?.length === 0) return new Set();
  let q = db.selectFrom('jobs').select(['id', 'attempt']).where('state', 'in', LEASED_STATES);
  if (jobIds) q = q.where('id', 'in', [...jobIds]);
  const rows = await q.execute();
  return new Set(rows.map((r) => `${r.id}/attempt-${r.attempt}`));
}
