import type { Kysely, Updateable } from 'kysely';
import { lockRows } from '../db/dialect';
import { LEASED_STATES, type Database, type JobsTable } from '../db/schema';
import type { AttemptRef, JobRow } from './types';

/**
 * The one conditional write behind every settling operation: it updates the
 * job only while `ref` still holds the lease of a leased (dispatched/running)
 * job. Zero rows means the lease was lost; the write is refused (undefined).
 * Takes the database or a transaction.
 */
export async function settleLeased(
  trx: Kysely<Database>,
  ref: AttemptRef,
  patch: Updateable<JobsTable>,
): Promise<JobRow | undefined> {
  return trx
    .updateTable('jobs')
    .set(patch)
    .where('id', '=', ref.jobId)
    .where('attempt', '=', ref.attempt)
    .where('lease_token', '=', ref.leaseToken)
    .where('state', 'in', LEASED_STATES)
    .returningAll()
    .executeTakeFirst();
}

/** The job while `ref` holds its lease, row-locked until the transaction ends (PostgreSQL), so a settle decided on it stands. */
export async function findLeased(trx: Kysely<Database>, ref: AttemptRef): Promise<JobRow | undefined> {
  const q = trx
    .selectFrom('jobs')
    .selectAll()
    .where('id', '=', ref.jobId)
    .where('attempt', '=', ref.attempt)
    .where('lease_token', '=', ref.leaseToken)
    .where('state', 'in', LEASED_STATES);
  return lockRows(trx, q).executeTakeFirst();
}
