import type { Db } from '../db/open-database';
import { lockRows } from '../db/dialect';
import { RETRYABLE_STATES } from '../db/schema';
import type { JobRow } from './types';

export type RetryResult =
  | { kind: 'not_found' }
  | { kind: 'not_retryable'; job: JobRow } // queued, leased or succeeded
  | { kind: 'retried'; job: JobRow };

/**
 * Replay a `failed`, `dead_letter` or `cancelled` job: back to `queued`,
 * runnable at `now` (or at its not_before, if later), cancel flag cleared,
 * lease cleared. The last error stays on the job until the next attempt
 * settles.
 *
 * Attempt numbers never restart — they fence leases and label logs and staged
 * outputs — so the budget is extended from the current attempt:
 *  - `resetAttempts` false: one more attempt (max_attempts = attempt + 1);
 *  - `resetAttempts` true: the budget the job was submitted with again
 *    (max_attempts = attempt + attempt_budget).
 * Conditional on the state, so a concurrent replay or cancel cannot double it.
 */
export async function retryJob(db: Db, jobId: string, opts: { resetAttempts: boolean }, now: number): Promise<RetryResult> {
  return db.transaction().execute(async (trx) => {
    const row = await lockRows(trx, trx.selectFrom('jobs').selectAll().where('id', '=', jobId)).executeTakeFirst();
    if (!row) return { kind: 'not_found' } as const;
    if (!RETRYABLE_STATES.includes(row.state)) return { kind: 'not_retryable', job: row } as const;
    const budget = opts.resetAttempts ? Math.max(1, row.attempt_budget || row.max_attempts) : 1;
    const job = await trx
      .updateTable('jobs')
      .set({
        state: 'queued',
        run_at: Math.max(now, row.not_before ?? 0),
        max_attempts: row.attempt + budget,
        cancel_requested: 0,
        lease_token: null,
        lease_expires_at: null,
        updated_at: now,
        finished_at: null,
      })
      .where('id', '=', jobId)
      .where('state', '=', row.state)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { kind: 'retried', job } as const;
  });
}

