import type { Db } from '../db/open-database';
import type { JobRow } from './types';

/**
 * Queued jobs whose run_at has come, in dispatch order: higher priority
 * first, then oldest (seq) first. Jobs of a paused plugin version (circuit
 * breaker) are left out, and so are jobs of the plugins named in
 * `skipPlugins` (those at their concurrency cap), so neither can crowd out
 * others within `limit`.
 *
 * The order matches the index jobs_queue_order (state, priority desc, seq):
 * the query walks it from the front and stops after `limit` matches, whatever
 * the queue's length.
 */
export async function listRunnable(db: Db, now: number, limit: number, skipPlugins: readonly string[] = []): Promise<JobRow[]> {
  return runnableQuery(db, now, limit, skipPlugins).execute();
}

/** The statement behind listRunnable, unexecuted (its plan is checked by a test). */
export function runnableQuery(db: Db, now: number, limit: number, skipPlugins: readonly string[] = []) {
  let q = db
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
    );
  if (skipPlugins.length) q = q.where('plugin_name', 'not in', skipPlugins);
  return q.orderBy('priority', 'desc').orderBy('seq').limit(limit);
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
