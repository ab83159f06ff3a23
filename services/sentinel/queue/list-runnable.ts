import type { Db } from '../db/open-database';
import type { JobRow } from './types';

/**
 * Queued jobs whose run_at has come, oldest first. Jobs of a paused plugin
 * version (circuit breaker) are left out, so they cannot crowd out others.
 */
export async function listRunnable(db: Db, now: number, limit: number): Promise<JobRow[]> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('state', '=', 'queued')
    .where('run_at', '<=', now)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('plugins')
            .select('plugins.seq')
            .whereRef('plugins.name', '=', 'jobs.plugin_name')
            .whereRef('plugins.version', '=', 'jobs.plugin_version')
            .where('plugins.paused', '=', 1),
        ),
      ),
    )
    .orderBy('seq')
    .limit(limit)
    .execute();
}

/** The earliest run_at among queued jobs not yet runnable (for scheduling the next tick). */
export async function nextDelayedRunAt(db: Db, now: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.min('run_at').as('t'))
    .where('state', '=', 'queued')
    .where('run_at', '>', now)
    .executeTakeFirst();
  return row?.t ?? undefined;
}
