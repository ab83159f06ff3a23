/**
 * The circuit breaker of a plugin version: `consecutive_failures` counts
 * failed attempts since the last successful one (or the last resume); at the
 * threshold the version is `paused`, and the scheduler stops dispatching its
 * jobs (they stay queued) until ResumePlugin.
 *
 * What counts: every settled failed attempt whose error is the plugin's own
 * fault (`countsTowardBreaker` in common/job-error.ts: the plugin raised,
 * crashed, timed out, hit a resource limit or produced invalid output),
 * whether or not the job is retried. A user's cancel, a vanished worker, a
 * broken environment or bridge on a worker and a missing input do not count.
 *
 * Attempt outcomes are recorded inside the transaction of the settling write
 * (failAttempt / completeAttempt), so the count never drifts from the jobs.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';
import type { PluginRow } from './registry';

type Conn = Kysely<Database> | Transaction<Database>;

/** paused_reason is a phrase that reads after "plugin NAME@VERSION is …". */
export function breakerReason(failures: number): string {
  return `paused after ${failures} consecutive failures`;
}

/** What GetJob says about a queued job of a paused version. */
export function pausedWaitingReason(p: Pick<PluginRow, 'name' | 'version' | 'paused_reason'>): string {
  return `waiting: plugin ${p.name}@${p.version} is ${p.paused_reason || 'paused'}; resume with casparian plugin resume ${p.name} ${p.version}`;
}

/**
 * One more failed attempt of `name@version`. With `threshold` > 0 the version
 * is paused when the count reaches it (a paused version stays paused, with its
 * first reason). Returns the plugin row after the update and whether this call
 * paused it.
 */
export async function recordPluginFailure(
  db: Conn,
  p: { name: string; version: string },
  threshold: number,
  now: number,
): Promise<{ plugin: PluginRow | undefined; paused: boolean }> {
  const row = await db
    .updateTable('plugins')
    .set((eb) => ({ consecutive_failures: eb('consecutive_failures', '+', 1) }))
    .where('name', '=', p.name)
    .where('version', '=', p.version)
    .returningAll()
    .executeTakeFirst();
  if (!row || threshold <= 0 || row.paused || row.consecutive_failures < threshold) return { plugin: row, paused: false };
  const paused = await db
    .updateTable('plugins')
    .set({ paused: 1, paused_at: now, paused_reason: breakerReason(row.consecutive_failures) })
    .where('name', '=', p.name)
    .where('version', '=', p.version)
    .where('paused', '=', 0)
    .returningAll()
    .executeTakeFirst();
  return { plugin: paused ?? row, paused: paused !== undefined };
}

/** A successful attempt: the count goes back to 0. A paused version stays paused (resume is explicit). */
export async function recordPluginSuccess(db: Conn, p: { name: string; version: string }): Promise<void> {
  await db
    .updateTable('plugins')
    .set({ consecutive_failures: 0 })
    .where('name', '=', p.name)
    .where('version', '=', p.version)
    .where('consecutive_failures', '!=', 0)
    .execute();
}

/** Pause by hand. Returns undefined for an unknown version; pausing a paused version keeps its reason. */
export async function pausePlugin(db: Conn, p: { name: string; version: string; reason: string }, now: number): Promise<PluginRow | undefined> {
  await db
    .updateTable('plugins')
    .set({ paused: 1, paused_at: now, paused_reason: p.reason ? `paused by request: ${p.reason}` : 'paused by request' })
    .where('name', '=', p.name)
    .where('version', '=', p.version)
    .where('paused', '=', 0)
    .execute();
  return findVersion(db, p);
}

/**
 * Resume: unpaused, count reset. The version's queued jobs that became
 * runnable during the pause get run_at = now, so their schedule-to-start
 * clock restarts instead of counting the pause. Returns undefined for an
 * unknown version.
 */
export async function resumePlugin(db: Kysely<Database>, p: { name: string; version: string }, now: number): Promise<PluginRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('plugins')
      .set({ paused: 0, paused_at: null, paused_reason: null, consecutive_failures: 0 })
      .where('name', '=', p.name)
      .where('version', '=', p.version)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await trx
      .updateTable('jobs')
      .set({ run_at: now })
      .where('plugin_name', '=', p.name)
      .where('plugin_version', '=', p.version)
      .where('state', '=', 'queued')
      .where('run_at', '<', now)
      .execute();
    return row;
  });
}

/** Every paused version (the scheduler reads this once per tick). */
export async function listPausedPlugins(db: Conn): Promise<PluginRow[]> {
  return db.selectFrom('plugins').selectAll().where('paused', '=', 1).execute();
}

async function findVersion(db: Conn, p: { name: string; version: string }): Promise<PluginRow | undefined> {
  return db.selectFrom('plugins').selectAll().where('name', '=', p.name).where('version', '=', p.version).executeTakeFirst();
}
