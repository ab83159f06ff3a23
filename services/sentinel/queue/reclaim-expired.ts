import { LEASED_STATES } from '../db/schema';
import type { BackoffPolicy } from '../../common/config';
import { JobErrors } from '../../common/job-error';
import type { Db } from '../db/open-database';
import { failAttempt } from './fail';
import type { JobRow } from './types';

/**
 * Attempts whose lease expired (their worker vanished or stopped
 * heartbeating) are settled as `worker_lost` (retryable) through failAttempt:
 * retried while attempts are left, `dead_letter` when none is left, cancelled
 * if a cancel was requested. worker_lost never counts toward a plugin's
 * circuit breaker.
 */
export async function reclaimExpired(db: Db, now: number, policy: BackoffPolicy, rand?: () => number): Promise<JobRow[]> {
  const expired = await db
    .selectFrom('jobs')
    .selectAll()
    .where('state', 'in', LEASED_STATES)
    .where('lease_expires_at', '<', now)
    .execute();
  const out: JobRow[] = [];
  for (const row of expired) {
    const error = JobErrors.workerLost(`lease of attempt ${row.attempt} expired: worker ${row.worker_id ?? '?'} stopped responding`);
    const settled = await failAttempt(db, { ref: { jobId: row.id, attempt: row.attempt, leaseToken: row.lease_token! }, error, policy, now, rand });
    if (settled) out.push(settled);
  }
  return out;
}
