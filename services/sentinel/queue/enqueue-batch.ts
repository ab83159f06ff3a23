import type { Db } from '../db/open-database';
import { againOnUniqueRace } from '../db/dialect';
import { insertJobs, type NewJob } from './enqueue';
import { IdempotencyKeyConflict } from './idempotency';

export interface NewBatch {
  id: string;
  pluginName: string;
  pluginVersion: string;
  idempotencyKey?: string;
  /** batchFingerprint() of the request; stored with a key, compared when the key comes again. */
  submitFingerprint?: string;
}

/**
 * Insert a batch and its queued jobs, all or nothing, in one transaction.
 * With an idempotency key that already names a batch, that batch's id and
 * job ids are returned instead (created = false) — unless both carry a
 * request fingerprint and they differ: then IdempotencyKeyConflict.
 */
export async function enqueueBatch(db: Db, batch: NewBatch, jobs: NewJob[], now: number): Promise<{ batchId: string; jobIds: string[]; created: boolean }> {
  return againOnUniqueRace(() =>
    db.transaction().execute(async (trx) => {
      if (batch.idempotencyKey) {
        const existing = await trx.selectFrom('batches').selectAll().where('idempotency_key', '=', batch.idempotencyKey).executeTakeFirst();
        if (existing) {
          if (batch.submitFingerprint && existing.submit_fingerprint && existing.submit_fingerprint !== batch.submitFingerprint) {
            throw new IdempotencyKeyConflict(batch.idempotencyKey, existing.id, 'batch');
          }
          const ids = await trx.selectFrom('jobs').select('id').where('batch_id', '=', existing.id).orderBy('seq').execute();
          return { batchId: existing.id, jobIds: ids.map((r) => r.id), created: false };
        }
      }
      await trx
        .insertInto('batches')
        .values({
          id: batch.id,
          plugin_name: batch.pluginName,
          plugin_version: batch.pluginVersion,
          total: jobs.length,
          idempotency_key: batch.idempotencyKey || null,
          submit_fingerprint: batch.idempotencyKey ? (batch.submitFingerprint ?? null) : null,
          created_at: now,
        })
        .execute();
      await insertJobs(trx, jobs, now, batch.id);
      return { batchId: batch.id, jobIds: jobs.map((j) => j.id), created: true };
    }),
  );
}
