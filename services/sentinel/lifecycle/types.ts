/**
 * Contracts of the job lifecycle (a leaf module: types only). The lifecycle
 * settles job rows; what it needs from the scheduler is only this.
 */
import type { BackoffPolicy } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import type { Db } from '../db/open-database';
import type { JobEvents } from '../job-events';
import type { JobRow } from '../queue/types';

/** What it takes to reach the attempt holding a job's lease. */
export type LeaseHolder = Pick<JobRow, 'id' | 'attempt' | 'lease_token' | 'worker_id'>;

/** The scheduler's side of a state change: worker slots and the dispatch loop. */
export interface SlotControl {
  /** An attempt settled (or lost its lease): free its worker slot, and schedule again. */
  release(jobId: string): void;
  /** An attempt's guest is done (its verdict arrived) on `workerId`: that worker's slot is free; schedule again. */
  freeSlot(workerId: string, jobId: string): void;
  /** Something became runnable: schedule again soon. */
  kick(): void;
  /** Ask the worker holding `job`'s lease to stop the attempt; false when it is not connected here. */
  cancelOnWorker(job: LeaseHolder, reason: string): boolean;
  /** Re-read which plugin versions are paused. */
  refreshPaused(): Promise<void>;
}

export interface LifecyclePolicy {
  leaseMs: number;
  backoff: BackoffPolicy;
  /** Consecutive plugin-fault failures that pause a plugin version; 0 = never. */
  breakerThreshold: number;
}

export interface LifecycleDeps {
  db: Db;
  clock: Clock;
  events: JobEvents;
  policy: LifecyclePolicy;
  slots: SlotControl;
  logger: Logger;
  /** An attempt was settled without committing (failed, lost, reclaimed, cancelled): it never will commit. */
  attemptEnded?: (jobId: string, attempt: number) => void;
  /** Jitter source for retry backoff, in [0, 1). Default Math.random. */
  rand?: () => number;
}
