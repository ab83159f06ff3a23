import type { Db } from '../db/open-database';
import type { AttemptRef } from './types';

/** Heartbeat: extend the leases of the given attempts. Returns the refs whose lease is still held. */
export async function extendLeases(db: Db, refs: AttemptRef[], leaseMs: number, now: number): Promise<AttemptRef[]> {
  const held: AttemptRef[] = [];
  for (const ref of refs) {
    const res = await db
      .updateTable('jobs')
      .set({ lease_expires_at: now + leaseMs })
      .where('id', '=', ref.jobId)
      .where('attempt', '=', ref.attempt)
      .where('lease_token', '=', ref.leaseToken)
      .where('state', 'in', ['dispatched', 'running'])
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) held.push(ref);
  }
  return held;
}
