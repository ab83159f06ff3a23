import type { Db } from '../db/open-database';
import { settleLeased } from './settle';
import type { AttemptRef } from './types';

/** Heartbeat: extend the leases of the given attempts, in one transaction. Returns the refs whose lease is still held. */
export async function extendLeases(db: Db, refs: AttemptRef[], leaseMs: number, now: number): Promise<AttemptRef[]> {
  if (refs.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const held: AttemptRef[] = [];
    for (const ref of refs) {
      if (await settleLeased(trx, ref, { lease_expires_at: now + leaseMs })) held.push(ref);
    }
    return held;
  });
}
