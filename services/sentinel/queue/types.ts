/**
 * Types shared by the queue operations. Every settling write names its lease:
 * an AttemptRef (job id + attempt + lease token). A write that matches zero
 * rows means the lease was lost, and the operation returns undefined.
 */
import type { Selectable } from 'kysely';
import type { JobError } from '../../common/job-error';
import type { BatchesTable, JobsTable, OutputsTable, JobLogsTable } from '../db/schema';

export type JobRow = Selectable<JobsTable>;
export type OutputRow = Selectable<OutputsTable>;
export type LogRow = Selectable<JobLogsTable>;
export type BatchRow = Selectable<BatchesTable>;

export interface AttemptRef {
  jobId: string;
  attempt: number;
  leaseToken: string;
}

export interface JobTimeouts {
  guestConnectMs: number;
  idleMs: number;
  startToCloseMs: number;
  killGraceMs: number;
  /** 0 = no schedule-to-start timeout. */
  scheduleToStartMs: number;
}

export interface AttemptMetrics {
  rows: number;
  durationMs: number;
  envMs: number;
  envProvisioned: boolean;
  arrowBytes: number;
  /** Rows the Sentinel set aside in `_quarantine` outputs at commit (absent = none). */
  quarantinedRows?: number;
}

export function parseError(row: JobRow): JobError | undefined {
  return row.error_json ? (JSON.parse(row.error_json) as JobError) : undefined;
}
export function parseTimeouts(row: JobRow): JobTimeouts {
  return JSON.parse(row.timeouts_json) as JobTimeouts;
}
export function parseMetrics(row: JobRow): AttemptMetrics | undefined {
  return row.metrics_json ? (JSON.parse(row.metrics_json) as AttemptMetrics) : undefined;
}
