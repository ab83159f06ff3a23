import type { Db } from '../db/open-database';
import { settleLeased } from './settle';
import type { AttemptRef, JobRow } from './types';

/** The worker opened the attempt's Conclude stream: `dispatched` → `running`. Fenced by lease. */
export async function startAttempt(db: Db, ref: AttemptRef, leaseMs: number, now: number): Promise<JobRow | undefined> {
  return settleLeased(db, ref, { state: 'running', started_at: now, updated_at: now, lease_expires_at: now + leaseMs });
}
