import type { Db } from '../db/open-database';
import type { AttemptRef, JobRow } from './types';

/** The worker opened the attempt's Conclude stream: `dispatched` → `running`. Fenced by lease. */
export async function startAttempt(db: Db, ref: AttemptRef, leaseMs: number, now: number): Promise<JobRow | undefined> {
  return db
    .updateTable('jobs')
    .set({ state: 'running', started_at: now, updated_at: now, lease_expires_at: now + leaseMs })
    .where('id', '=', ref.jobId)
    .where('attempt', '=', ref.attempt)
    .where('lease_token', '=', ref.leaseToken)
    .where('state', 'in', ['dispatched', 'running'])
    .returningAll()
    .executeTakeFirst();
}
