import type { JobError } from '../../common/job-error';
import type { Db } from '../db/open-database';
import type { JobRow } from './types';

/**
 * Fail a job that is still queued (e.g. its schedule-to-start timeout fired).
 * Conditional on the state: a job claimed in the meantime is left alone.
 */
export async function failQueued(db: Db, jobId: string, error: JobError, now: number): Promise<JobRow | undefined> {
  return db
    .updateTable('jobs')
    .set({ state: 'failed', error_json: JSON.stringify(error), updated_at: now, finished_at: now })
    .where('id', '=', jobId)
    .where('state', '=', 'queued')
    .returningAll()
    .executeTakeFirst();
}
