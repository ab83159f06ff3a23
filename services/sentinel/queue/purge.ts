import type { Db } from '../db/open-database';
import { lockRowsSkipLocked } from '../db/dialect';
import type { JobStateName } from '../db/schema';

/** States a purge may remove: final ones only; a job still queued or leased is never purged. */
export const PURGEABLE_STATES: readonly JobStateName[] = ['succeeded', 'failed', 'cancelled', 'dead_letter'];

export interface PurgeResult {
  jobIds: string[];
  logLines: number;
  outputFiles: number;
  outputBytes: number;
}

/**
 * Retention: the jobs that finished before `cutoff` in one of `states` (all
 * final states when empty), with their logs and output rows, removed in one
 * transaction, or only counted with `dryRun`. The output files go after the
 * transaction (OutputStore.removeJob), so a crash in between leaves files
 * without rows, which the next start's cleanup removes.
 */
export async function purgeFinishedJobs(db: Db, o: { cutoff: number; states: readonly JobStateName[]; dryRun: boolean; limit: number }): Promise<PurgeResult> {
  const states = o.states.length ? o.states : PURGEABLE_STATES;
  return db.transaction().execute(async (trx) => {
    // Locked (PostgreSQL) so that a job retried meanwhile on another replica is not removed; rows another purge holds are skipped.
    const candidates = trx
      .selectFrom('jobs')
      .select('id')
      .where('state', 'in', [...states])
      .where('finished_at', 'is not', null)
      .where('finished_at', '<', o.cutoff)
      .orderBy('finished_at')
      .limit(o.limit);
    const jobs = await lockRowsSkipLocked(trx, candidates).execute();
    const jobIds = jobs.map((j) => j.id);
    if (jobIds.length === 0) return { jobIds, logLines: 0, outputFiles: 0, outputBytes: 0 };
    const logs = await trx.selectFrom('job_logs').select((eb) => eb.fn.countAll<number>().as('n')).where('job_id', 'in', jobIds).executeTakeFirstOrThrow();
    const outputs = await trx
      .selectFrom('outputs')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size_bytes').as('bytes')])
      .where('job_id', 'in', jobIds)
      .executeTakeFirstOrThrow();
    if (!o.dryRun) {
      await trx.deleteFrom('job_logs').where('job_id', 'in', jobIds).execute();
      await trx.deleteFrom('outputs').where('job_id', 'in', jobIds).execute();
      await trx.deleteFrom('sink_deliveries').where('job_id', 'in', jobIds).execute(); // what was delivered stays in its sink
      await trx.deleteFrom('jobs').where('id', 'in', jobIds).execute();
    }
    return { jobIds, logLines: Number(logs.n), outputFiles: Number(outputs.n), outputBytes: Number(outputs.bytes ?? 0) };
  });
}
