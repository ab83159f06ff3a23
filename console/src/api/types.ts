/**
 * The Sentinel's messages as its HTTP API sends them: canonical proto3 JSON
 * (camelCase names, enums by name, 64-bit integers as strings, Timestamps as
 * RFC 3339 strings). Fields at their default value are left out, so every
 * field is optional here and readers treat a missing one as 0, "", false or [].
 * Only what the console reads is declared (proto/casparian/v1/*.proto is the
 * full contract).
 */

export type JobStateName =
  | 'JOB_STATE_QUEUED'
  | 'JOB_STATE_DISPATCHED'
  | 'JOB_STATE_RUNNING'
  | 'JOB_STATE_SUCCEEDED'
  | 'JOB_STATE_FAILED'
  | 'JOB_STATE_CANCELLED'
  | 'JOB_STATE_DEAD_LETTER';

export const JOB_STATES: readonly JobStateName[] = [
  'JOB_STATE_QUEUED',
  'JOB_STATE_DISPATCHED',
  'JOB_STATE_RUNNING',
  'JOB_STATE_SUCCEEDED',
  'JOB_STATE_FAILED',
  'JOB_STATE_CANCELLED',
  'JOB_STATE_DEAD_LETTER',
];

/** A 64-bit integer: a string in JSON (a number is accepted too). */
export type Int64 = string | number;

export interface ColumnInfo {
  name?: string;
  type?: string;
  nullable?: boolean;
}

export interface OutputInfo {
  name?: string;
  rows?: Int64;
  sizeBytes?: Int64;
  columns?: ColumnInfo[];
}

export interface JobError {
  errorClass?: string;
  code?: string;
  message?: string;
  traceback?: string;
  retryable?: boolean;
}

export interface JobMetrics {
  rows?: Int64;
  durationMs?: Int64;
  envMs?: Int64;
  envProvisioned?: boolean;
  arrowBytes?: Int64;
}

export interface SinkDelivery {
  output?: string;
  sink?: string;
  state?: string;
  error?: string;
}

export interface Job {
  id: string;
  pluginName?: string;
  pluginVersion?: string;
  inputPath?: string;
  state?: JobStateName;
  attempt?: number;
  maxAttempts?: number;
  workerId?: string;
  error?: JobError;
  outputs?: OutputInfo[];
  idempotencyKey?: string;
  waitingReason?: string;
  metrics?: JobMetrics;
  envHash?: string;
  createdAt?: string;
  updatedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  batchId?: string;
  partial?: boolean;
  quarantinedRows?: Int64;
  priority?: number;
  notBefore?: string;
  sinkDeliveries?: SinkDelivery[];
}

export interface JobLog {
  attempt?: number;
  level?: string;
  message?: string;
  time?: string;
  source?: string;
}

export interface JobCounts {
  total?: number;
  queued?: number;
  running?: number;
  succeeded?: number;
  failed?: number;
  cancelled?: number;
  deadLetter?: number;
}

export interface Timeouts {
  guestConnectMs?: number;
  idleMs?: number;
  startToCloseMs?: number;
  killGraceMs?: number;
  scheduleToStartMs?: number;
}

export interface PluginManifest {
  description?: string;
  envAllow?: string[];
  timeouts?: Timeouts;
  maxAttempts?: number;
  limits?: { memoryMb?: number; cpuSeconds?: number; openFiles?: number };
  backoff?: { initialMs?: number; multiplier?: number; maxMs?: number };
  isolation?: string;
  maxConcurrency?: number;
}

export interface OutputContract {
  output?: string;
  columns?: ColumnInfo[];
  maxQuarantineFraction?: number;
  maxQuarantineRows?: Int64;
}

export interface Plugin {
  name?: string;
  version?: string;
  envHash?: string;
  artifactHash?: string;
  manifest?: PluginManifest;
  createdAt?: string;
  sourceBytes?: number;
  paused?: boolean;
  consecutiveFailures?: number;
  pausedReason?: string;
  contracts?: OutputContract[];
  signingKeyId?: string;
  sinks?: { output?: string; kind?: string; target?: string; mode?: string }[];
}

export interface EnvInfo {
  envHash?: string;
  status?: string;
  backend?: string;
  pythonVersion?: string;
  sizeBytes?: Int64;
  problem?: string;
}

export interface WorkerInfo {
  workerId?: string;
  hostname?: string;
  version?: string;
  slots?: number;
  busySlots?: number;
  envMode?: string;
  mayProvision?: boolean;
  envs?: EnvInfo[];
  connectedAt?: string;
  lastHeartbeatAt?: string;
  draining?: boolean;
  sentinelReplica?: string;
}

export interface QuerySummary {
  rows?: Int64;
  truncated?: boolean;
  elapsedMs?: number;
}

export interface ThroughputBucket {
  start?: string;
  succeeded?: number;
  failed?: number;
  cancelled?: number;
  deadLetter?: number;
}

/** Request and response of every method the console calls, by method name. */
export interface Methods {
  ListJobs: [{ state?: JobStateName; pluginName?: string; pageSize?: number; pageToken?: string; batchId?: string }, { jobs?: Job[]; nextPageToken?: string }];
  GetJob: [{ jobId: string; includeLogs?: boolean }, { job?: Job; logs?: JobLog[] }];
  CancelJob: [{ jobId: string; reason?: string }, { job?: Job }];
  RetryJob: [{ jobId: string; resetAttempts?: boolean }, { job?: Job }];
  ListWorkers: [Record<string, never>, { workers?: WorkerInfo[]; dispatchPausedReason?: string }];
  ListPlugins: [{ name?: string }, { plugins?: Plugin[] }];
  PausePlugin: [{ name: string; version: string; reason?: string }, { plugin?: Plugin }];
  ResumePlugin: [{ name: string; version: string }, { plugin?: Plugin }];
  ListDatasets: [{ pluginName?: string }, { datasets?: { name?: string; jobs?: number; rows?: Int64; sizeBytes?: Int64 }[] }];
  GetThroughput: [{ minutes?: number; pluginName?: string }, { buckets?: ThroughputBucket[] }];
}

/** Server-streaming methods: request and one message of the stream. */
export interface Streams {
  WatchJobs: [{ batchId?: string; pluginName?: string }, { job?: Job; counts?: JobCounts }];
  WatchJob: [{ jobId: string }, { kind?: string; job?: Job; log?: JobLog }];
  Query: [{ sql: string; maxRows?: number; timeoutSeconds?: number }, { data?: string; summary?: QuerySummary }];
}
