import type { Insertable, Transaction } from 'kysely';
import { againOnUniqueRace } from '../db/dialect';
import type { Db } from '../db/open-database';
import type { Database, JobsTable } from '../db/schema';
import type { BackoffPolicy } from '../../common/config';
import { IdempotencyKeyConflict } from './idempotency';
import type { JobRow, JobTimeouts } from './types';

export interface NewJob {
  id: string;
  pluginName: string;
  pluginVersion: string;
  envHash: string;
  inputPath: string;
  maxAttempts: number;
  timeouts: JobTimeouts;
  idempotencyKey?: string;
  /** submitFingerprint() of the request; stored with a key, compared when the key comes again. */
  submitFingerprint?: string;
  /** Overrides of the Sentinel's backoff policy for this job (from the request or the plugin manifest). */
  backoff?: Partial<BackoffPolicy>;
  /** The submission's W3C traceparent (validated, version-00 form). */
  traceparent?: string;
  /** Dispatch priority: higher first, FIFO within one; default 0. */
  priority?: number;
  /** Not started before this time (ms since the epoch): the job's run_at starts here when it is in the future. */
  notBefore?: number;
}

/**
 * Insert a queued job. With an idempotency key, an existing job with the same
 * key is returned instead (created = false) — unless both carry a request
 * fingerprint and they differ: then IdempotencyKeyConflict is thrown. The
 * check and the insert share one transaction.
 */
export async function enqueueJob(db: Db, job: NewJob, now: number): Promise<{ job: JobRow; created: boolean }> {
  // A key raced in by a concurrent submit (PostgreSQL) is read by the second run.
  return againOnUniqueRace(() =>
    db.transaction().execute(async (trx) => {
      if (job.idempotencyKey) {
        const existing = await trx.selectFrom('jobs').selectAll().where('idempotency_key', '=', job.idempotencyKey).executeTakeFirst();
        if (existing) {
          if (job.submitFingerprint && existing.submit_fingerprint && existing.submit_fingerprint !== job.submitFingerprint) {
            throw new IdempotencyKeyConflict(job.idempotencyKey, existing.id);
          }
          return { job: existing, created: false };
        }
      }
      const row = await trx
        .insertInto('jobs')
        .values(jobValues(job, now))
        .returningAll()
        .executeTakeFirstOrThrow();
      return { job: row, created: true };
    }),
  );
}

/** The row of a new queued job. */
export function jobValues(job: NewJob, now: number, batchId?: string): Insertable<JobsTable> {
  return {
    id: job.id,
    plugin_name: job.pluginName,
    plugin_version: job.pluginVersion,
    env_hash: job.envHash,
    input_path: job.inputPath,
    state: 'queued',
    attempt: 0,
    max_attempts: job.maxAttempts,
    attempt_budget: job.maxAttempts,
    backoff_json: job.backoff && Object.keys(job.backoff).length ? JSON.stringify(job.backoff) : null,
    lease_token: null,
    lease_expires_at: null,
    worker_id: null,
    run_at: Math.max(now, job.notBefore ?? now),
    priority: job.priority ?? 0,
    not_before: job.notBefore ?? null,
    idempotency_key: job.idempotencyKey || null,
    submit_fingerprint: job.idempotencyKey ? (job.submitFingerprint ?? null) : null,
    batch_id: batchId ?? null,
    traceparent: job.traceparent ?? null,
    timeouts_json: JSON.stringify(job.timeouts),
    error_json: null,
    metrics_json: null,
    cancel_requested: 0,
    created_at: now,
    updated_at: now,
    started_at: null,
    finished_at: null,
  };
}

/** Rows per INSERT statement (SQLite caps the parameters of one statement). */
export const INSERT_CHUNK = 500;

/** Insert queued jobs of one batch, INSERT_CHUNK rows per statement, inside the caller's transaction. */
export async function insertJobs(trx: Transaction<Database>, jobs: readonly NewJob[], now: number, batchId: string): Promise<void> {
  for (let i = 0; i < jobs.length; i += INSERT_CHUNK) {
    await trx
      .insertInto('jobs')
      .values(jobs.slice(i, i + INSERT_CHUNK).map((j) => jobValues(j, now, batchId)))
      .execute();
  }
}
