import type { Db } from '../db/open-database';
import { storeKind } from '../db/dialect';
import type { JobRow } from './types';

/**
 * Move a queued job to `dispatched` for a worker: a new attempt number and a
 * new lease token. Returns undefined if the job is no longer queued (another
 * claim or a cancel won).
 */
export async function claimJob(
  db: Db,
  args: { jobId: string; workerId: string; leaseToken: string; leaseMs: number },
  now: number,
): Promise<JobRow | undefined> {
  return db
    .updateTable('jobs')
    .set((eb) => ({
      state: 'dispatched',
      attempt: eb('attempt', '+', 1),
      lease_token: args.leaseToken,
      lease_expires_at: now + args.leaseMs,
      worker_id: args.workerId,
      updated_at: now,
    }))
    .where('id', '=', args.jobId)
    .where('state', '=', 'queued')
    .where('cancel_requested', '=', 0)
    // On PostgreSQL the row is taken with FOR UPDATE SKIP LOCKED: when another replica is claiming (or cancelling) it,
    // this claim gets nothing at once instead of waiting for that transaction to end.
    .$if(storeKind(db) === 'postgres', (q) =>
      q.where('id', 'in', (eb) => eb.selectFrom('jobs as c').select('c.id').where('c.id', '=', args.jobId).where('c.state', '=', 'queued').forUpdate().skipLocked()),
    )
    .returningAll()
    .executeTakeFirst();
}
