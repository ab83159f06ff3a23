/**
 * What a Sentinel does because other replicas may share its store and its
 * output root (PostgreSQL). With one Sentinel on SQLite only the startup
 * sweep runs, and runs as it always did.
 *
 *  - the output sweep: at startup, then every SWEEP_EVERY_MS (one replica at
 *    a time), removing dirs no committed row references and no leased
 *    attempt may still use;
 *  - the staging sweep: every STAGING_SWEEP_MS, the staging dirs of attempts
 *    that lost their lease, and this replica's commits of unknown outcome;
 *  - the database probe: every DB_PROBE_MS; `onDatabase` hears when it stops
 *    or starts answering;
 *  - worker sessions: this replica's workers written every REFRESH_MS, for
 *    ListWorkers on the others;
 *  - messages from other replicas (replica-bus.ts), applied here.
 */
import * as path from 'node:path';
import { sql } from 'kysely';
import type { Logger } from '../../common/logger';
import type { WorkerInfo } from '../../gen/casparian/v1/types';
import type { CatalogUpdates } from '../catalog/catalog-updates';
import type { Clock } from '../clock';
import type { Db } from '../db/open-database';
import { runExclusive } from '../db/singleton';
import type { JobEvents } from '../job-events';
import { getOutputsOf, listLeasedAttempts, listOutputPaths } from '../queue';
import type { Scheduler } from '../scheduler/scheduler';
import type { OutputStore } from '../sinks/output-store';
import type { BusMessage, ReplicaBus } from './replica-bus';
import { REFRESH_MS, dropSessions, writeSessions } from './worker-registry';

/** How often the full output sweep runs on replicas (one Sentinel sweeps at startup only). */
export const SWEEP_EVERY_MS = 10 * 60_000;
/** How often replicas look for staging dirs of attempts that lost their lease. */
export const STAGING_SWEEP_MS = 5_000;
/** How often a replica checks that its database answers. */
const DB_PROBE_MS = 1_000;

export interface ReplicaDutiesDeps {
  db: Db;
  bus: ReplicaBus;
  store: OutputStore;
  events: JobEvents;
  scheduler: Scheduler;
  /** The replica's own catalog file (not the forwarding wrapper: what arrives from others is not sent back). */
  catalog: CatalogUpdates;
  clock: Clock;
  logger: Logger;
  /** The store's URL with its password masked, for logs. */
  dbLabel: string;
  localWorkers(): WorkerInfo[];
  /** The database stopped (false) or started (true) answering the probe. */
  onDatabase(up: boolean): void;
}

export class ReplicaDuties {
  private readonly timers: NodeJS.Timeout[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private running = false;
  private writing = false;
  private dbUp = true;

  constructor(private readonly d: ReplicaDutiesDeps) {}

  /** Listen to the other replicas and start the timers (replicas only). */
  async start(): Promise<void> {
    const { bus, events, logger } = this.d;
    await bus.start({ message: (m) => this.fromReplica(m), resync: () => events.resync() });
    if (!bus.replicated) return;
    this.running = true;
    // While the database is away every round fails; the probe has said so once already.
    const failed = (what: string, err: unknown) => (this.dbUp ? logger.warn : logger.debug).call(logger, `${what} failed`, { error: String(err) });
    const every = (ms: number, what: string, fn: () => Promise<unknown>) => this.timers.push(setInterval(() => void fn().catch((err) => failed(what, err)), ms).unref());
    every(REFRESH_MS, 'writing worker sessions', () => this.writeSessions());
    every(SWEEP_EVERY_MS, 'output sweep', () => this.sweepOutputs());
    every(STAGING_SWEEP_MS, 'staging sweep', () => this.sweepStaging());
    this.probe();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.d.bus.replicated) await dropSessions(this.d.db, this.d.bus.replicaId).catch(() => undefined);
    await this.d.bus.stop();
  }

  /**
   * Remove output dirs no committed row references (left by a crash between
   * publish and commit, or by a commit whose outcome was unknown). With one
   * Sentinel this runs at startup, before work is accepted, and removes every
   * such dir. Replicas share the output root: there the sweep keeps the dirs
   * of attempts that hold a lease (another replica may be committing them)
   * and runs on one replica at a time.
   */
  async sweepOutputs(): Promise<string[]> {
    const { db, store, bus } = this.d;
    let removed: string[] = [];
    await runExclusive(db, 'outputSweep', async () => {
      // Leased first, then referenced: an attempt that commits in between is in the second read.
      const leased = bus.replicated ? await listLeasedAttempts(db) : new Set<string>();
      const referenced = new Set((await listOutputPaths(db)).map((p) => path.dirname(p)));
      removed = (await store.cleanup(referenced, leased)).removed;
    });
    if (removed.length) this.d.logger.info('removed uncommitted output dirs', { count: removed.length });
    return removed;
  }

  /**
   * Remove staging dirs whose attempt lost its lease (a replica died while
   * receiving it, or its worker did): cheap, the staging dir holds only
   * attempts in flight. Then decide this replica's commits of unknown outcome.
   */
  async sweepStaging(): Promise<string[]> {
    const { db, store, logger } = this.d;
    let removed: string[] = [];
    await runExclusive(db, 'outputSweep', async () => {
      removed = await store.sweepStaging((jobIds) => listLeasedAttempts(db, jobIds));
    });
    if (removed.length) logger.info('removed the staging dirs of attempts that lost their lease', { count: removed.length });
    const undone = await store.settleUncertain(async (jobIds) => ({
      leased: await listLeasedAttempts(db, jobIds),
      referenced: new Set([...(await getOutputsOf(db, jobIds)).values()].flatMap((os) => os.map((o) => path.dirname(o.parquet_path)))),
    }));
    if (undone.length) logger.info('removed published dirs whose commit did not happen (the database went away during it)', { count: undone.length });
    return [...removed, ...undone];
  }

  private async writeSessions(): Promise<void> {
    if (this.writing || !this.running) return;
    this.writing = true;
    try {
      await writeSessions(this.d.db, this.d.bus.replicaId, this.d.localWorkers(), this.d.clock.now());
    } finally {
      this.writing = false;
    }
  }

  /** A message from another replica. */
  private fromReplica(m: BusMessage): void {
    const { events, scheduler, catalog, logger } = this.d;
    switch (m.kind) {
      case 'state':
        events.deliver(m);
        void scheduler.changedElsewhere(m.jobId).catch((err) => logger.warn('could not re-read a job changed elsewhere', { jobId: m.jobId, error: String(err) }));
        return;
      case 'progress':
      case 'log':
        events.deliver(m);
        return;
      case 'kick':
        scheduler.kick();
        return;
      case 'cancel':
        scheduler.cancelOnWorker(m.job, m.reason);
        return;
      case 'plugins':
        void scheduler
          .refreshPaused()
          .then(() => scheduler.refreshCaps())
          .catch((err) => logger.warn('could not re-read plugins changed elsewhere', { error: String(err) }));
        return;
      case 'catalog':
        if (m.names) catalog.committed(m.names);
        else catalog.removed();
        return;
    }
  }

  /** Probe the database every DB_PROBE_MS, telling onDatabase when the answer changes. */
  private probe(): void {
    const { db, logger, dbLabel } = this.d;
    const once = async () => {
      let up = true;
      try {
        await sql`select 1`.execute(db);
      } catch (err) {
        up = false;
        if (this.dbUp) logger.error('the database does not answer; reporting NOT_SERVING until it does', { db: dbLabel, error: (err as Error).message });
      }
      if (up && !this.dbUp) logger.info('the database answers again', { db: dbLabel });
      if (up !== this.dbUp) {
        this.dbUp = up;
        this.d.onDatabase(up);
        if (up) {
          this.d.events.resync();
          this.d.scheduler.kick();
        }
      }
      if (this.running) {
        this.probeTimer = setTimeout(() => void once(), DB_PROBE_MS);
        this.probeTimer.unref();
      }
    };
    void once();
  }
}
