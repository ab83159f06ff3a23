/**
 * Table types for kysely. Times are integer milliseconds since the epoch;
 * JSON columns hold domain objects serialised with JSON.stringify.
 */
import type { Generated } from 'kysely';

/**
 * Job states. `dead_letter`: every attempt failed with a retryable error and
 * none is left; `failed`: the last error was not retryable. RetryJob moves
 * failed, dead_letter and cancelled jobs back to `queued`.
 */
export type JobStateName = 'queued' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'dead_letter';
/** States a job stays in unless a client acts (RetryJob). WatchJob ends on them. */
export const FINAL_STATES: readonly JobStateName[] = ['succeeded', 'failed', 'cancelled', 'dead_letter'];
/** Final states RetryJob may replay. */
export const RETRYABLE_STATES: readonly JobStateName[] = ['failed', 'dead_letter', 'cancelled'];
/** States in which a job holds a lease. */
export const LEASED_STATES: readonly JobStateName[] = ['dispatched', 'running'];

export interface PluginsTable {
  seq: Generated<number>;
  name: string;
  version: string;
  source: string;
  lockfile: string;
  manifest_json: string;
  env_hash: string;
  artifact_hash: string;
  created_at: number;
  /** Circuit breaker (migration 2): 1 while the scheduler must not dispatch this version. */
  paused: Generated<number>;
  /** Failed attempts since the last success or resume (migration 2). */
  consecutive_failures: Generated<number>;
  paused_reason: Generated<string | null>;
  paused_at: Generated<number | null>;
  /** Sink routes (migration 10), JSON SinkRoute[]; null = none. */
  sinks_json: Generated<string | null>;
  /** Declared output contracts and quarantine limits (migration 7), JSON; null = none. */
  contracts_json: Generated<string | null>;
  /** The publisher's Ed25519 signature, base64 (migration 9); null = unsigned. Never verified by the Sentinel. */
  signature: Generated<string | null>;
  /** Key id of `signature` (migration 9); null = unsigned. */
  signing_key_id: Generated<string | null>;
}

export interface JobsTable {
  seq: Generated<number>;
  id: string;
  plugin_name: string;
  plugin_version: string;
  env_hash: string;
  input_path: string;
  state: JobStateName;
  attempt: number;
  max_attempts: number;
  /** The max_attempts the job was submitted with (migration 2); RetryJob with reset_attempts grants it again. */
  attempt_budget: Generated<number>;
  /** Partial BackoffPolicy overriding the Sentinel's, or null. */
  backoff_json: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  worker_id: string | null;
  /** Not runnable before this time (delayed retries). */
  run_at: number;
  idempotency_key: string | null;
  /** sha256 of the SubmitJob request that first used idempotency_key (migration 4); null matches any request. */
  submit_fingerprint: string | null;
  /** The SubmitJobs batch of the job (migration 5); null for SubmitJob. */
  batch_id: Generated<string | null>;
  /** The W3C traceparent the job was submitted with (migration 6); null = none. */
  traceparent: Generated<string | null>;
  /** Dispatch priority (migration 8): higher first, FIFO by seq within one. */
  priority: Generated<number>;
  /** Not started before this time (migration 8); null = none. run_at is never below it. */
  not_before: Generated<number | null>;
  timeouts_json: string;
  error_json: string | null;
  metrics_json: string | null;
  cancel_requested: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface OutputsTable {
  job_id: string;
  name: string;
  attempt: number;
  rows: number;
  size_bytes: number;
  parquet_path: string;
  columns_json: string;
  created_at: number;
}

export interface JobLogsTable {
  id: Generated<number>;
  job_id: string;
  attempt: number;
  level: string;
  source: string;
  message: string;
  time: number;
}

/** One SubmitJobs call (migration 5): its jobs carry its id in jobs.batch_id. */
export interface BatchesTable {
  id: string;
  plugin_name: string;
  plugin_version: string;
  total: number;
  idempotency_key: string | null;
  /** batchFingerprint() of the request that first used the key. */
  submit_fingerprint: string | null;
  created_at: number;
}

/** One output of a committed job on its way to one sink route (migration 10). */
export interface SinkDeliveriesTable {
  job_id: string;
  output: string;
  kind: string;
  target: string;
  mode: string;
  /** pending → delivered, or failed (a permanent problem, e.g. an incompatible table); pending is retried. */
  state: string;
  tries: Generated<number>;
  error: string | null;
  next_at: number;
  updated_at: number;
}

/**
 * File identity for SubmitScan (migration 11): per plugin name and path, the
 * size, mtime and content hash of the file as of its last queued job.
 */
export interface ScannedFilesTable {
  plugin_name: string;
  path: string;
  size: number;
  /** Modification time, microseconds since the epoch. */
  mtime_us: number;
  /** sha256 of the content, hex. */
  sha256: string;
  /** The job last queued for this content (it may have been purged since). */
  job_id: string;
  scanned_at: number;
}

/** A worker connected to some replica (migration 12), refreshed by that replica every few seconds. */
export interface WorkerSessionsTable {
  worker_id: string;
  replica_id: string;
  info_json: string;
  updated_at: number;
}

export interface Database {
  worker_sessions: WorkerSessionsTable;
  plugins: PluginsTable;
  sink_deliveries: SinkDeliveriesTable;
  scanned_files: ScannedFilesTable;
  jobs: JobsTable;
  batches: BatchesTable;
  outputs: OutputsTable;
  job_logs: JobLogsTable;
}
