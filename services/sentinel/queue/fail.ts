import type { BackoffPolicy } from '../../common/config';
import type { JobError } from '../../common/job-error';
import type { Db } from '../db/open-database';
import { nextRunAt } from './backoff';
import { findLeased, settleLeased } from './settle';
import type { AttemptMetrics, AttemptRef, JobRow } from './types';

/**
 * Settle a failed attempt. A retryable error with attempts left sends the job
 * back to `queued` with a backoff delay; otherwise it becomes `failed`. A job
 * whose cancel was requested becomes `cancelled`. Fenced by lease.
 */
export async function failAttempt(
  db: Db,
  ref: AttemptRef,
  error: JobError,
  metrics: AttemptMetrics | undefined,
  policy: BackoffPolicy,
  now: number,
  rand: () => number = Math.random,
): Promise<JobRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await findLeased(trx, ref);
    if (!row) return undefined;
    const common = {
      lease_token: null,
      lease_expires_at: null,
      error_json: JSON.stringify(error),
      metrics_json: metrics ? JSON.stringify(metrics) : row.metrics_json,
      updated_at: now,
    };
    if (row.cancel_requested) {
      return settleLeased(trx, ref, { ...common, state: 'cancelled', finished_at: now });
    }
    if (error.retryable && row.attempt < row.max_attempts) {
      return settleLeased(trx, ref, { ...common, state: 'queued', run_at: nextRunAt(row.attempt, now, policy, rand) });
    }
    return settleLeased(trx, ref, { ...common, state: 'failed', finished_at: now });
  });
}
