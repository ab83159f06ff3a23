import type { BackoffPolicy } from '../../common/config';
import { countsTowardBreaker, type JobError } from '../../common/job-error';
import type { Db } from '../db/open-database';
import { recordPluginFailure } from '../plugins/breaker';
import { nextRunAt } from './backoff';
import { findLeased, settleLeased } from './settle';
import type { AttemptMetrics, AttemptRef, JobRow } from './types';

export interface FailAttempt {
  ref: AttemptRef;
  error: JobError;
  /** Metrics of the failed attempt; the job keeps its previous ones when absent. */
  metrics?: AttemptMetrics;
  policy: BackoffPolicy;
  now: number;
  /** Jitter source in [0, 1); default Math.random. */
  rand?: () => number;
  /** Pause the plugin version at this many consecutive plugin-fault failures; 0 (default) = never. */
  breakerThreshold?: number;
}

/**
 * Settle a failed attempt. Fenced by lease.
 *
 *  - cancel requested                      → `cancelled`
 *  - retryable error, attempts left        → `queued`, run_at after backoff (and not before not_before)
 *  - retryable error, no attempts left     → `dead_letter` (replay with RetryJob)
 *  - error that is not retryable           → `failed`
 *
 * In the same transaction the plugin version's circuit breaker counts the
 * failure if it is the plugin's fault (countsTowardBreaker) and, when
 * `breakerThreshold` > 0 and the count reaches it, pauses the version.
 */
export async function failAttempt(db: Db, o: FailAttempt): Promise<JobRow | undefined> {
  const { ref, error, metrics, policy, now, rand = Math.random, breakerThreshold = 0 } = o;
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
    if (countsTowardBreaker(error)) {
      await recordPluginFailure(trx, { name: row.plugin_name, version: row.plugin_version }, breakerThreshold, now);
    }
    if (error.retryable && row.attempt < row.max_attempts) {
      const effective = row.backoff_json ? { ...policy, ...(JSON.parse(row.backoff_json) as Partial<BackoffPolicy>) } : policy;
      // A retry never runs before the job's not_before.
      const runAt = Math.max(nextRunAt(row.attempt, now, effective, rand), row.not_before ?? 0);
      return settleLeased(trx, ref, { ...common, state: 'queued', run_at: runAt });
    }
    const state = error.retryable ? 'dead_letter' : 'failed';
    return settleLeased(trx, ref, { ...common, state, finished_at: now });
  });
}
