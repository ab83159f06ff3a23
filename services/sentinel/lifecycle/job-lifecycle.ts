/**
 * The job lifecycle: the one place that changes a job's state. Every method
 * is named after what happened and follows one rule:
 *
 *     settle the row (fenced on job id + attempt + lease token where a lease
 *     exists) → publish the state event → release the worker slot or kick
 *     the scheduler
 *
 * so no caller can forget one of the three. A settle refused by the fence
 * (the lease was lost) returns undefined and publishes nothing. RPC handlers
 * and the scheduler call this module; they never call the queue's writes.
 */
import type { JobError } from '../../common/job-error';
import { JobErrors } from '../../common/job-error';
import { pausePlugin, resumePlugin } from '../plugins/breaker';
import type { PluginRow } from '../plugins/registry';
import {
  appendLogs,
  claimJob,
  completeAttempt,
  confirmCancelled,
  enqueueBatch,
  enqueueScanChunk,
  enqueueJob,
  extendLeases,
  failAttempt,
  failQueued,
  listLeasedByWorker,
  reclaimExpired,
  requestCancel,
  retryJob,
  startAttempt,
  type AttemptMetrics,
  type AttemptRef,
  type CancelResult,
  type CommittedOutput,
  type JobRow,
  type NewBatch,
  type NewJob,
  type PurgeResult,
  type ScannedFile,
  purgeFinishedJobs,
  type RetryResult,
} from '../queue';
import type { JobStateName } from '../db/schema';
import type { LifecycleDeps } from './types';
import { traceFields } from '../../common/trace-context';
import type { DeliveryRow } from '../sinks/delivery';

export class JobLifecycle {
  constructor(private readonly d: LifecycleDeps) {}

  private now(): number {
    return this.d.clock.now();
  }

  private changed(jobId: string): void {
    this.d.events.publish({ kind: 'state', jobId });
  }

  /**
   * A verdict arrived on the attempt's Conclude stream: its guest is done, so
   * its worker slot is free while the verdict is applied (a commit of its
   * outputs may take a while). No state changes here; the settle that follows
   * publishes and releases again (a no-op for the slot).
   */
  verdictArrived(o: { ref: AttemptRef; workerId: string }): void {
    this.d.slots.freeSlot(o.workerId, o.ref.jobId);
  }

  /** Retention: finished jobs removed (or counted, dry run); no event, the jobs are gone. */
  purge(o: { cutoff: number; states: JobStateName[]; dryRun: boolean; limit: number }): Promise<PurgeResult> {
    return purgeFinishedJobs(this.d.db, o);
  }

  /** The attempt is over (settled or lost): its slot is free. */
  private settled(jobId: string): void {
    this.changed(jobId);
    this.d.slots.release(jobId);
  }

  // --- queue side ----------------------------------------------------------

  /** SubmitJob: a job entered the queue (or an idempotent resubmit found it). */
  async submitted(o: { job: NewJob }): Promise<{ job: JobRow; created: boolean }> {
    const res = await enqueueJob(this.d.db, o.job, this.now());
    if (res.created) {
      this.changed(res.job.id);
      this.d.slots.kick();
    }
    return res;
  }

  /** SubmitJobs: a batch of jobs entered the queue in one transaction (or an idempotent resubmit found it). */
  async batchSubmitted(o: { batch: NewBatch; jobs: NewJob[] }): Promise<{ batchId: string; jobIds: string[]; created: boolean }> {
    const res = await enqueueBatch(this.d.db, o.batch, o.jobs, this.now());
    if (res.created) {
      for (const id of res.jobIds) this.changed(id);
      this.d.slots.kick();
    }
    return res;
  }

  /**
   * SubmitScan: one chunk of a scan committed (its jobs queued into the
   * scan's batch, its file identities recorded) in one transaction.
   */
  async scanChunkSubmitted(o: { batch: NewBatch; jobs: NewJob[]; files: ScannedFile[] }): Promise<void> {
    await enqueueScanChunk(this.d.db, o.batch, o.jobs, o.files, this.now());
    if (o.jobs.length === 0) return;
    for (const j of o.jobs) this.changed(j.id);
    this.d.slots.kick();
  }

  /**
   * The scheduler leased queued jobs to workers (one round's claims, written
   * in one transaction). Returns the claimed rows; a job that was no longer
   * queued (claimed or cancelled meanwhile) is left out.
   */
  async dispatched(o: { claims: { jobId: string; workerId: string; leaseToken: string }[] }): Promise<JobRow[]> {
    if (o.claims.length === 0) return [];
    const now = this.now();
    const leaseMs = this.d.policy.leaseMs;
    const rows = await this.d.db.transaction().execute(async (trx) => {
      const out: JobRow[] = [];
      for (const c of o.claims) {
        const row = await claimJob(trx, { ...c, leaseMs }, now);
        if (row) out.push(row);
      }
      return out;
    });
    for (const row of rows) this.changed(row.id);
    return rows;
  }

  /** A queued job waited past its schedule-to-start timeout. Undefined when it was claimed meanwhile. */
  async expiredBeforeStart(o: { jobId: string; error: JobError }): Promise<JobRow | undefined> {
    const row = await failQueued(this.d.db, o.jobId, o.error, this.now());
    if (row) this.changed(row.id);
    return row;
  }

  /** CancelJob: a queued job is cancelled at once; a leased one is asked to stop on its worker. */
  async cancelled(o: { jobId: string; reason: string }): Promise<CancelResult> {
    const res = await requestCancel(this.d.db, o.jobId, o.reason, this.now());
    if (res.kind === 'cancelled' || res.kind === 'requested') await this.noted(res.job, `CancelJob: ${o.reason || 'no reason given'}`);
    if (res.kind === 'requested') this.d.slots.cancelOnWorker(res.job, o.reason || 'cancelled by request');
    if (res.kind === 'cancelled' || res.kind === 'requested') this.changed(res.job.id);
    return res;
  }

  /** RetryJob: a failed, dead-letter or cancelled job is queued again. */
  async retried(o: { jobId: string; resetAttempts: boolean }): Promise<RetryResult> {
    const res = await retryJob(this.d.db, o.jobId, { resetAttempts: o.resetAttempts }, this.now());
    if (res.kind === 'retried') {
      await this.noted(res.job, `RetryJob: queued again${o.resetAttempts ? ', attempts reset' : ''}`);
      this.d.logger.info('job replayed', { jobId: res.job.id, attempt: res.job.attempt, maxAttempts: res.job.max_attempts, resetAttempts: o.resetAttempts, ...traceFields(res.job.traceparent) });
      this.changed(res.job.id);
      this.d.slots.kick();
    }
    return res;
  }

  // --- attempt side (fenced by the lease) -----------------------------------

  /** The worker opened the attempt's Conclude stream: dispatched → running. */
  async attemptStarted(o: { ref: AttemptRef }): Promise<JobRow | undefined> {
    const row = await startAttempt(this.d.db, o.ref, this.d.policy.leaseMs, this.now());
    if (row) this.changed(row.id);
    return row;
  }

  /** A heartbeat: extend the leases the worker still holds; returns those (the rest were lost). */
  leasesRenewed(o: { refs: AttemptRef[] }): Promise<AttemptRef[]> {
    return extendLeases(this.d.db, o.refs, this.d.policy.leaseMs, this.now());
  }

  /** The current lease holder's verdict was SUCCEEDED and its outputs are published: commit. */
  async attemptSucceeded(o: { ref: AttemptRef; outputs: CommittedOutput[]; metrics: AttemptMetrics; deliveries?: (now: number) => DeliveryRow[] }): Promise<JobRow | undefined> {
    const now = this.now();
    const row = await completeAttempt(this.d.db, o.ref, o.outputs, o.metrics, now, o.deliveries?.(now));
    if (row) this.settled(row.id);
    return row;
  }

  /**
   * The attempt failed (a verdict, a broken stream, a lost worker): retried,
   * dead-lettered, failed or — if a cancel was requested — cancelled; the
   * plugin's circuit breaker counts it when it is the plugin's fault.
   */
  async attemptFailed(o: { ref: AttemptRef; error: JobError; metrics?: AttemptMetrics }): Promise<JobRow | undefined> {
    const { backoff: policy, breakerThreshold } = this.d.policy;
    const row = await failAttempt(this.d.db, { ...o, policy, now: this.now(), rand: this.d.rand, breakerThreshold });
    if (row) {
      this.settled(row.id);
      this.d.attemptEnded?.(o.ref.jobId, o.ref.attempt);
    }
    return row;
  }

  /** The worker stopped an attempt whose cancel was requested. */
  async attemptCancelled(o: { ref: AttemptRef }): Promise<JobRow | undefined> {
    const row = await confirmCancelled(this.d.db, o.ref, this.now());
    if (row) {
      this.settled(row.id);
      this.d.attemptEnded?.(o.ref.jobId, o.ref.attempt);
    }
    return row;
  }

  /**
   * A client's action on a job (cancel, retry), kept in the job's own log
   * (source "sentinel") so its page and `casparian job ID` show who changed it.
   */
  private async noted(job: JobRow, message: string): Promise<void> {
    const time = this.now();
    await appendLogs(this.d.db, [{ jobId: job.id, attempt: job.attempt, level: 'info', source: 'sentinel', message, time }]);
    this.d.events.publish({ kind: 'log', jobId: job.id, attempt: job.attempt, level: 'info', source: 'sentinel', message, time });
  }

  /** Log lines of a running attempt. */
  async attemptLogged(o: { ref: AttemptRef; level: string; source: string; message: string }): Promise<void> {
    const time = this.now();
    const { jobId, attempt } = o.ref;
    await appendLogs(this.d.db, [{ jobId, attempt, level: o.level, source: o.source, message: o.message, time }]);
    this.d.events.publish({ kind: 'log', jobId, attempt, level: o.level, source: o.source, message: o.message, time });
  }

  /** Progress of a running attempt (not stored; for watchers). */
  attemptProgressed(o: { ref: AttemptRef; rows: number; fraction: number; message: string }): void {
    this.d.events.publish({ kind: 'progress', jobId: o.ref.jobId, rows: o.rows, fraction: o.fraction, message: o.message });
  }

  /**
   * Leases that ran out without a heartbeat: each attempt is settled as
   * WORKER_LOST. Returns the settled rows (their worker_id names the worker
   * that stopped answering).
   */
  async leaseExpired(): Promise<JobRow[]> {
    const rows = await reclaimExpired(this.d.db, this.now(), this.d.policy.backoff, this.d.rand);
    for (const row of rows) {
      this.d.logger.warn('lease expired; attempt reclaimed', { jobId: row.id, attempt: row.attempt, state: row.state, workerId: row.worker_id, ...traceFields(row.traceparent) });
      this.settled(row.id);
      this.d.attemptEnded?.(row.id, row.attempt);
    }
    return rows;
  }

  /**
   * A (re)connecting worker said which attempts it still runs: every attempt
   * the database leases to it that it did not name was lost (with a Sentinel
   * restart or a broken stream) and is settled now instead of at lease expiry.
   */
  async attemptsLost(o: { workerId: string; stillRunning: AttemptRef[] }): Promise<JobRow[]> {
    const key = (r: AttemptRef): string => `${r.jobId}/${r.attempt}/${r.leaseToken}`;
    const running = new Set(o.stillRunning.map(key));
    const out: JobRow[] = [];
    for (const row of await listLeasedByWorker(this.d.db, o.workerId)) {
      const ref = { jobId: row.id, attempt: row.attempt, leaseToken: row.lease_token! };
      if (running.has(key(ref))) continue;
      const error = JobErrors.workerLost(`worker ${o.workerId} reconnected without attempt ${row.attempt}; it was lost`);
      const settled = await this.attemptFailed({ ref, error });
      if (settled) {
        this.d.logger.warn('attempt reconciled as lost', { jobId: row.id, attempt: row.attempt, workerId: o.workerId, state: settled.state, ...traceFields(row.traceparent) });
        out.push(settled);
      }
    }
    return out;
  }

  // --- plugin versions ------------------------------------------------------

  /** PausePlugin: the scheduler stops dispatching the version's jobs. Undefined for an unknown version. */
  async pluginPaused(o: { name: string; version: string; reason: string }): Promise<PluginRow | undefined> {
    const row = await pausePlugin(this.d.db, o, this.now());
    if (row) {
      await this.d.slots.refreshPaused();
      this.d.logger.info('plugin version paused by request', { plugin: o.name, version: o.version, reason: o.reason });
    }
    return row;
  }

  /** ResumePlugin: the version's queued jobs are runnable again. Undefined for an unknown version. */
  async pluginResumed(o: { name: string; version: string }): Promise<PluginRow | undefined> {
    const row = await resumePlugin(this.d.db, o, this.now());
    if (!row) return undefined;
    await this.d.slots.refreshPaused();
    this.d.slots.kick();
    this.d.logger.info('plugin version resumed by request', { plugin: o.name, version: o.version });
    return row;
  }
}
