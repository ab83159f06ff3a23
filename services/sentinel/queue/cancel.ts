import { JobErrors } from '../../common/job-error';
import { lockRows } from '../db/dialect';
import type { Db } from '../db/open-database';
import { settleLeased } from './settle';
import type { AttemptRef, JobRow } from './types';

export type CancelResult =
  | { kind: 'not_found' }
  | { kind: 'final'; job: JobRow } // already succeeded/failed/cancelled
  | { kind: 'cancelled'; job: JobRow } // was queued: cancelled now
  | { kind: 'requested'; job: JobRow }; // leased: the worker must stop it

/**
 * Cancel a job. A queued job is cancelled at once; a dispatched or running job
 * is marked cancel_requested, and becomes `cancelled` when its worker confirms
 * (confirmCancelled) or its lease is reclaimed.
 */
export async function requestCancel(db: Db, jobId: string, reason: string, now: number): Promise<CancelResult> {
  return db.transaction().execute(async (trx) => {
    const row = await lockRows(trx, trx.selectFrom('jobs').selectAll().where('id', '=', jobId)).executeTakeFirst();
    if (!row) return { kind: 'not_found' } as const;
    const error = JobErrors.cancelled(reason || 'cancelled by request');
    if (row.state === 'queued') {
      const job = await trx
        .updateTable('jobs')
        .set({ state: 'cancelled', cancel_requested: 1, error_json: JSON.stringify(error), updated_at: now, finished_at: now })
        .where('id', '=', jobId)
        .where('state', '=', 'queued')
        .returningAll()
        .executeTakeFirstOrThrow();
      return { kind: 'cancelled', job } as const;
    }
    if (row.state === 'dispatched' || row.state === 'running') {
      const job = await trx
        .updateTable('jobs')
        .set({ cancel_requested: 1, error_json: JSON.stringify(error), updated_at: now })
        .where('id', '=', jobId)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { kind: 'requested', job } as const;
    }
    return { kind: 'final', job: row } as const;
  });
}

/** The worker stopped a cancelled attempt. Fenced by lease. */
export async function confirmCancelled(db: Db, ref: AttemptRef, now: number): Promise<JobRow | undefined> {
  return db.transaction().execute((trx) =>
    settleLeased(trx, ref, { state: 'cancelled', lease_token: null, lease_expires_at: null, updated_at: now, finished_at: now }),
  );
}
