/**
 * The scheduler fills free worker slots with runnable jobs and reclaims
 * expired leases. Rounds never overlap; there are two kinds:
 *  - a tick, on a timer (tickMs): re-reads the paused plugin versions,
 *    reclaims expired leases, fails jobs past their schedule-to-start timeout,
 *    then dispatches;
 *  - a kick, whenever something changes (a submit, a worker joining, a job
 *    settling): only dispatches, and only when a slot is free.
 * A round's claims are written in one transaction. Every state change it
 * makes goes through the job lifecycle.
 *
 * Jobs of a paused plugin version (circuit breaker) are not dispatched: they
 * stay queued and their waiting reason names the pause. The set of paused
 * versions is re-read at every tick (and on refreshPaused()).
 *
 * Runnable jobs are taken in dispatch order (priority desc, then FIFO). A
 * plugin's concurrency cap (max_concurrency of its newest version, over all
 * its versions) is checked against one count of leased attempts per round
 * (CapBudget); jobs held by a cap stay queued with a waiting reason naming it.
 * Caps are re-read at every tick and after a publish (refreshCaps()).
 *
 * A worker whose lease expired without a heartbeat is suspect (frozen, or cut
 * off): it gets no new dispatch until it heartbeats again. A retry prefers a
 * worker other than the one that ran the previous attempt.
 */
import * as crypto from 'node:crypto';
import { JobErrors } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import type { Db } from '../db/open-database';
import type { JobLifecycle } from '../lifecycle/job-lifecycle';
import type { LeaseHolder, SlotControl } from '../lifecycle/types';
import { listPausedPlugins, pausedWaitingReason } from '../plugins/breaker';
import { listConcurrencyCaps } from '../plugins/concurrency-caps';
import { belowFloor, type DiskFloor } from './disk-floor';
import { parseManifest } from '../plugins/manifest';
import { findPlugin, type PluginRow } from '../plugins/registry';
import { countLeasedByPlugin, getJob, listRunnable, parseTimeouts, type JobRow } from '../queue';
import { LEASED_STATES } from '../db/schema';
import { chooseWorker, describeWait, type WaitReason } from './choose-worker';
import { CapBudget } from './concurrency-caps';
import { freeSlots, type WorkerSession } from './worker-session';
import { traceFields } from '../../common/trace-context';

export interface SchedulerDeps {
  db: Db;
  clock: Clock;
  lifecycle: JobLifecycle;
  /** How often expired leases are reclaimed and delayed retries become runnable. */
  tickMs: number;
  logger: Logger;
  /** No dispatch while the data dir has less free space than this (checked at every tick). */
  diskFloor?: DiskFloor;
  /** Told, per dispatched attempt, how long its job waited since it became runnable (metrics). */
  onDispatched?: (waitedMs: number) => void;
  /** Called when dispatch pauses for lack of disk (the reason) or resumes (''). */
  onDispatchPaused?: (reason: string) => void;
}

export class Scheduler implements SlotControl {
  readonly workers = new Map<string, WorkerSession>();
  private readonly waiting = new Map<string, string>();
  private readonly plugins = new Map<string, PluginRow>();
  /** name@version → waiting reason, for paused plugin versions. */
  private paused = new Map<string, string>();
  /** Plugin name → max_concurrency, for capped plugins; read before the first round, whatever kind it is. */
  private caps: Map<string, number> | undefined;
  /** Plugin name → waiting reason, for plugins at their cap in the last round. */
  private capped = new Map<string, string>();
  private running: Promise<void> | undefined;
  private again = false;
  /** A tick was asked for while a round ran. */
  private tickDue = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Why nothing is dispatched (the data dir is below its free-space floor); '' otherwise. */
  private lowDisk = '';

  constructor(private readonly d: SchedulerDeps) {}

  start(): void {
    this.timer = setInterval(() => this.schedule(true), this.d.tickMs);
    this.timer.unref();
    this.schedule(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  addWorker(w: WorkerSession): void {
    const old = this.workers.get(w.workerId);
    if (old) {
      // A reconnect: keep the in-flight accounting of the old session.
      for (const id of old.inFlight) w.inFlight.add(id);
    }
    this.workers.set(w.workerId, w);
    this.kick();
  }

  /** The current session of a worker id, if it is connected. */
  session(workerId: string): WorkerSession | undefined {
    return this.workers.get(workerId);
  }

  removeWorker(w: WorkerSession): void {
    // Only remove if it is still the current session for that id.
    if (this.workers.get(w.workerId) === w) this.workers.delete(w.workerId);
  }

  /** Why a queued job is not running, if the scheduler knows. */
  waitingReason(job: Pick<JobRow, 'id' | 'plugin_name' | 'plugin_version' | 'not_before'>): string {
    if (this.lowDisk) return this.lowDisk;
    const paused = this.paused.get(`${job.plugin_name}@${job.plugin_version}`);
    if (paused) return paused;
    if (job.not_before !== null && job.not_before > this.d.clock.now()) return `waiting: not before ${new Date(job.not_before).toISOString()}`;
    return this.capped.get(job.plugin_name) ?? this.waiting.get(job.id) ?? '';
  }

  /** Re-read the plugins' concurrency caps (after a publish), and schedule: a cap may have been lifted. */
  async refreshCaps(): Promise<void> {
    this.caps = await listConcurrencyCaps(this.d.db);
    this.kick();
  }

  /** Why the Sentinel dispatches nothing at all right now ('' when it dispatches). */
  dispatchPausedReason(): string {
    return this.lowDisk;
  }

  /** Re-read which plugin versions are paused (after a pause, resume or breaker trip). */
  async refreshPaused(): Promise<void> {
    const next = new Map<string, string>();
    for (const p of await listPausedPlugins(this.d.db)) {
      const key = `${p.name}@${p.version}`;
      if (!this.paused.has(key)) {
        this.d.logger.warn('plugin version paused; its jobs stay queued', { plugin: p.name, version: p.version, reason: p.paused_reason, consecutiveFailures: p.consecutive_failures });
      }
      next.set(key, pausedWaitingReason(p));
    }
    for (const key of this.paused.keys()) if (!next.has(key)) this.d.logger.info('plugin version resumed', { plugin: key });
    this.paused = next;
  }

  /** A job's attempt settled (or its lease was lost): free its slot. */
  release(jobId: string): void {
    for (const w of this.workers.values()) w.inFlight.delete(jobId);
    this.kick();
  }

  /** The guest of `jobId` on `workerId` is done: free that worker's slot (only that worker's: a later attempt may run elsewhere). */
  freeSlot(workerId: string, jobId: string): void {
    if (this.workers.get(workerId)?.inFlight.delete(jobId)) this.kick();
  }

  /** Ask the worker holding `job` to stop the attempt. */
  cancelOnWorker(job: LeaseHolder, reason: string): boolean {
    if (!job.worker_id || !job.lease_token) return false;
    const w = this.workers.get(job.worker_id);
    if (!w) return false;
    return w.sendCancel({ jobId: job.id, attempt: job.attempt, leaseToken: job.lease_token }, reason);
  }

  /**
   * Another replica changed a job (replicas share the store): if a worker of
   * this replica holds a slot for it, and the job is no longer leased to that
   * worker (another replica reclaimed its expired lease, say), free the slot.
   */
  async changedElsewhere(jobId: string): Promise<void> {
    const holders = [...this.workers.values()].filter((w) => w.inFlight.has(jobId));
    if (holders.length === 0) return;
    const job = await getJob(this.d.db, jobId);
    let freed = false;
    for (const w of holders) {
      if (job && LEASED_STATES.includes(job.state) && job.worker_id === w.workerId) continue;
      freed = w.inFlight.delete(jobId) || freed;
    }
    if (freed) this.kick();
  }

  /** Something changed: dispatch soon (a kick round). */
  kick(): void {
    this.schedule(false);
  }

  private schedule(tick: boolean): void {
    if (this.stopped) return;
    this.tickDue ||= tick;
    if (this.running) {
      this.again = true;
      return;
    }
    const isTick = this.tickDue;
    this.tickDue = false;
    this.running = this.round(isTick)
      .catch((err) => this.d.logger.error('scheduler round failed', { error: String(err?.stack ?? err) }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          setImmediate(() => this.schedule(false));
        }
      });
  }

  private async round(isTick: boolean): Promise<void> {
    if (isTick) {
      await this.refreshPaused();
      this.caps = undefined; // re-read below
      for (const job of await this.d.lifecycle.leaseExpired()) this.suspect(job.worker_id);
      if (this.d.diskFloor) {
        const low = await belowFloor(this.d.diskFloor);
        if (low && !this.lowDisk) this.d.logger.warn(low);
        if (!low && this.lowDisk) this.d.logger.info('dispatch resumed: the data dir is above its free-space floor');
        const changed = !low !== !this.lowDisk;
        this.lowDisk = low;
        if (changed) this.d.onDispatchPaused?.(low);
      }
    }
    if (this.lowDisk) return;
    const free = [...this.workers.values()].reduce((n, w) => n + freeSlots(w), 0);
    if (!isTick && free === 0) return;
    const now = this.d.clock.now();
    const limit = Math.max(isTick ? 100 : 16, free * 4);
    const caps = (this.caps ??= await listConcurrencyCaps(this.d.db));
    const budget = new CapBudget(caps, await countLeasedByPlugin(this.d.db, [...caps.keys()]));
    const stillWaiting = new Set<string>();
    // A pass whose listing was full and in which a plugin reached its cap lists again without that plugin, so
    // jobs held by a cap cannot take every place in the listing: at most one pass more than there are caps.
    for (;;) {
      const runnable = await listRunnable(this.d.db, now, limit, budget.full());
      const planned: Planned[] = [];
      let heldByCap = false;
      for (const job of runnable) {
        if (!budget.admit(job.plugin_name)) {
          heldByCap = true;
          continue;
        }
        // A retry prefers another worker than the one its last attempt ran on.
        const choice = chooseWorker(this.workers.values(), job.env_hash, job.attempt > 0 ? (job.worker_id ?? undefined) : undefined);
        if ('waiting' in choice) {
          if (isTick && (await this.expireIfOverdue(job, choice.waiting, now))) continue;
          stillWaiting.add(job.id);
          this.waiting.set(job.id, `waiting: ${describeWait(choice.waiting, job.env_hash)}`);
          continue;
        }
        choice.worker.inFlight.add(job.id); // reserved until the claim commits (or is refused)
        this.waiting.delete(job.id);
        budget.take(job.plugin_name);
        planned.push({ job, worker: choice.worker, leaseToken: crypto.randomUUID() });
      }
      if (planned.length) await this.dispatchAll(planned);
      if (!heldByCap || runnable.length < limit || ![...this.workers.values()].some((w) => freeSlots(w) > 0)) break;
    }
    this.capped = new Map(budget.full().map((name) => [name, budget.reason(name)]));
    if (isTick) for (const id of this.waiting.keys()) if (!stillWaiting.has(id)) this.waiting.delete(id);
  }

  /** A lease of this worker expired without a heartbeat: no new work for it until it heartbeats again. */
  private suspect(workerId: string | null): void {
    const w = workerId ? this.workers.get(workerId) : undefined;
    if (!w || w.suspect) return;
    w.suspect = true;
    this.d.logger.warn('worker suspect: a lease expired without a heartbeat; no dispatch until it heartbeats', { workerId: w.workerId });
  }

  /**
   * Schedule-to-start: a job that has waited (since it became runnable) longer
   * than its timeout fails — ENV_UNAVAILABLE when no worker can get its env,
   * else a TIMEOUT naming the timeout.
   */
  private async expireIfOverdue(job: JobRow, reason: WaitReason, now: number): Promise<boolean> {
    const limit = parseTimeouts(job).scheduleToStartMs ?? 0;
    if (!limit || now - job.run_at < limit) return false;
    const why = describeWait(reason, job.env_hash);
    const error =
      reason === 'no_env'
        ? JobErrors.envUnavailable(`schedule-to-start timeout (${limit} ms): ${why}`)
        : JobErrors.timeout('schedule_to_start', limit, why);
    const failed = await this.d.lifecycle.expiredBeforeStart({ jobId: job.id, error });
    if (!failed) return false;
    this.waiting.delete(job.id);
    this.d.logger.warn('job failed before it started', { jobId: job.id, code: error.code, ...traceFields(job.traceparent) });
    return true;
  }

  private async plugin(name: string, version: string): Promise<PluginRow | undefined> {
    const key = `${name}@${version}`;
    let p = this.plugins.get(key);
    if (!p) {
      p = await findPlugin(this.d.db, name, version);
      if (p) this.plugins.set(key, p);
    }
    return p;
  }

  /** Claim the planned jobs in one transaction, then send each claimed attempt to its worker. */
  private async dispatchAll(planned: Planned[]): Promise<void> {
    const orders: { p: Planned; plugin: PluginRow }[] = [];
    for (const p of planned) {
      const plugin = await this.plugin(p.job.plugin_name, p.job.plugin_version);
      if (plugin) orders.push({ p, plugin });
      else {
        p.worker.inFlight.delete(p.job.id);
        this.d.logger.error('queued job names a plugin version that does not exist', { jobId: p.job.id, ...traceFields(p.job.traceparent) });
      }
    }
    const claimed = await this.d.lifecycle.dispatched({
      claims: orders.map(({ p }) => ({ jobId: p.job.id, workerId: p.worker.workerId, leaseToken: p.leaseToken })),
    });
    const rows = new Map(claimed.map((r) => [r.id, r]));
    let lost = false;
    for (const { p, plugin } of orders) {
      const row = rows.get(p.job.id);
      if (!row) {
        p.worker.inFlight.delete(p.job.id); // another claim (another replica's) or a cancel won
        lost = true;
        continue;
      }
      const manifest = parseManifest(plugin);
      const sent = p.worker.sendDispatch({
        ref: { jobId: row.id, attempt: row.attempt, leaseToken: p.leaseToken },
        pluginName: plugin.name,
        pluginVersion: plugin.version,
        source: plugin.source,
        artifactHash: plugin.artifact_hash,
        envHash: plugin.env_hash,
        lockfile: plugin.lockfile,
        inputPath: row.input_path,
        timeouts: parseTimeouts(row),
        envAllow: manifest.envAllow,
        limits: manifest.limits,
        isolation: manifest.isolation,
        traceparent: row.traceparent ?? undefined,
        manifestJson: plugin.manifest_json,
        signed: plugin.signature && plugin.signing_key_id ? { signature: Buffer.from(plugin.signature, 'base64'), keyId: plugin.signing_key_id } : undefined,
      });
      if (sent) this.d.onDispatched?.(Math.max(0, this.d.clock.now() - row.run_at));
      // If the send failed the stream is gone; the lease expires and the job is reclaimed.
      this.d.logger.debug('dispatched', { jobId: row.id, attempt: row.attempt, workerId: p.worker.workerId, sent, ...traceFields(row.traceparent) });
    }
    // The slots reserved for lost claims are free again: list once more (the jobs claimed elsewhere are no longer queued).
    if (lost) this.kick();
  }
}

/** A job the round means to dispatch, before its claim is written. */
interface Planned {
  job: JobRow;
  worker: WorkerSession;
  leaseToken: string;
}
