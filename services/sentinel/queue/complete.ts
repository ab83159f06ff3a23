import type { Db } from '../db/open-database';
import { recordPluginSuccess } from '../plugins/breaker';
import type { DeliveryRow } from '../sinks/delivery';
import { settleLeased } from './settle';
import type { AttemptMetrics, AttemptRef, JobRow } from './types';

export interface CommittedOutput {
  name: string;
  rows: number;
  sizeBytes: number;
  parquetPath: string;
  columns: { name: string; type: string; nullable: boolean }[];
}

/**
 * Commit a successful attempt: the job becomes `succeeded` and its output rows
 * are inserted, in one transaction, only while `ref` holds the lease. Returns
 * undefined (and writes nothing) when the lease was lost. A success resets the
 * plugin version's consecutive-failure count (circuit breaker).
 */
export async function completeAttempt(
  db: Db,
  ref: AttemptRef,
  outputs: CommittedOutput[],
  metrics: AttemptMetrics,
  now: number,
  /** The outbox rows of the job's sink routes (sinks/delivery.ts), committed with it. */
  deliveries: readonly DeliveryRow[] = [],
): Promise<JobRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await settleLeased(trx, ref, {
      state: 'succeeded',
      lease_token: null,
      lease_expires_at: null,
      error_json: null,
      metrics_json: JSON.stringify(metrics),
      updated_at: now,
      finished_at: now,
    });
    if (!row) return undefined;
    await recordPluginSuccess(trx, { name: row.plugin_name, version: row.plugin_version });
    // A job succeeds once; stale rows from nowhere cannot exist, but be explicit.
    await trx.deleteFrom('outputs').where('job_id', '=', ref.jobId).execute();
    for (const o of outputs) {
      await trx
        .insertInto('outputs')
        .values({
          job_id: ref.jobId,
          name: o.name,
          attempt: ref.attempt,
          rows: o.rows,
          size_bytes: o.sizeBytes,
          parquet_path: o.parquetPath,
          columns_json: JSON.stringify(o.columns),
          created_at: now,
        })
        .execute();
    }
    await trx.deleteFrom('sink_deliveries').where('job_id', '=', ref.jobId).execute();
    if (deliveries.length) await trx.insertInto('sink_deliveries').values([...deliveries]).execute();
    return row;
  });
}
