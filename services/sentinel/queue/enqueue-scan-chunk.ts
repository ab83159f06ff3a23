import type { Db } from '../db/open-database';
import { INSERT_CHUNK, insertJobs, type NewJob } from './enqueue';
import type { NewBatch } from './enqueue-batch';

/** A file's identity as a scan saw it, recorded in scanned_files. */
export interface ScannedFile {
  path: string;
  size: number;
  mtimeUs: number;
  sha256: string;
  /** The job queued for this content; for a touched-but-unchanged file, the job already recorded. */
  jobId: string;
}

/**
 * One chunk of a scan, in one transaction: the scan's batch is created with
 * its first jobs (later chunks add to its total), the chunk's jobs are
 * queued, and every file identity of the chunk (queued or merely touched) is
 * upserted, so a crash leaves either all of a chunk or none of it.
 */
export async function enqueueScanChunk(db: Db, batch: NewBatch, jobs: readonly NewJob[], files: readonly ScannedFile[], now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (jobs.length > 0) {
      const grown = await trx
        .updateTable('batches')
        .set((eb) => ({ total: eb('total', '+', jobs.length) }))
        .where('id', '=', batch.id)
        .executeTakeFirst();
      if (Number(grown.numUpdatedRows) === 0) {
        await trx
          .insertInto('batches')
          .values({ id: batch.id, plugin_name: batch.pluginName, plugin_version: batch.pluginVersion, total: jobs.length, idempotency_key: null, submit_fingerprint: null, created_at: now })
          .execute();
      }
      await insertJobs(trx, jobs, now, batch.id);
    }
    for (let i = 0; i < files.length; i += INSERT_CHUNK) {
      await trx
        .insertInto('scanned_files')
        .values(
          files.slice(i, i + INSERT_CHUNK).map((f) => ({
            plugin_name: batch.pluginName,
            path: f.path,
            size: f.size,
            mtime_us: f.mtimeUs,
            sha256: f.sha256,
            job_id: f.jobId,
            scanned_at: now,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['plugin_name', 'path']).doUpdateSet((eb) => ({
            size: eb.ref('excluded.size'),
            mtime_us: eb.ref('excluded.mtime_us'),
            sha256: eb.ref('excluded.sha256'),
            job_id: eb.ref('excluded.job_id'),
            scanned_at: eb.ref('excluded.scanned_at'),
          })),
        )
        .execute();
    }
  });
}
