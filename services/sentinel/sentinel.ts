/**
 * The Sentinel: composes the database, output store, scheduler and RPC
 * services, and owns their lifecycle.
 *
 *   created → started → draining → stopped
 *
 * shutdown() is idempotent: it stops accepting submissions (UNAVAILABLE),
 * reports NOT_SERVING, stops the scheduler, closes streams within a grace
 * period (then forces) and closes the database.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { sql } from 'kysely';
import { authInterceptor } from '../common/auth/guard';
import { callLogInterceptor } from '../common/call-log';
import { TokenStore } from '../common/auth/tokens';
import type { AuthSettings, SentinelConfig } from '../common/config';
import { startServer, type ManagedServer } from '../common/grpc-server';
import { serverCredentials, tlsMode } from '../common/tls';
import { SentinelMetrics } from './sentinel-metrics';
import type { Logger } from '../common/logger';
import { systemClock, type Clock } from './clock';
import { openDatabase, type Db } from './db/open-database';
import { StateMachine, type Transitions } from '../common/state-machine';
import { JobEvents } from './job-events';
import { JobLifecycle } from './lifecycle/job-lifecycle';
import type { SlotControl } from './lifecycle/types';
import { getOutputsOf, listDatasetNames, listLeasedAttempts, listOutputPaths } from './queue';
import { storeKind } from './db/dialect';
import { runExclusive } from './db/singleton';
import { redactUrl } from '../common/store-target';
import { LocalBus, type BusMessage, type ReplicaBus } from './replicas/replica-bus';
import { PgBus } from './replicas/pg-bus';
import type { CatalogUpdates } from './catalog/catalog-updates';
import { REFRESH_MS, dropSessions, readOtherSessions, writeSessions } from './replicas/worker-registry';
import { CatalogWriter } from './catalog/catalog-writer';
import { ClientApi } from './rpc/client-api';
import type { RpcContext } from './rpc/context';
import { SentinelService, sentinelImplementation } from './rpc/sentinel-service';
import { Scheduler } from './scheduler/scheduler';
import { LocalOutputStore } from './sinks/output-store';
import type { OutputWriterFactory } from './sinks/output-writer';
import { openCommitWriters } from './sinks/writer-setup';
import { SinkDelivery } from './sinks/delivery';

/** The DuckDB catalog file, in the data directory. */
export const CATALOG_FILE = 'catalog.duckdb';

export type SentinelState = 'created' | 'started' | 'draining' | 'stopped';

/**
 * A health name of its own for dispatch: NOT_SERVING while the free-space
 * floor pauses it. The client API (and "" and casparian.v1.Sentinel) stay
 * SERVING then, so that an operator can still reach the Sentinel to purge.
 */
export const DISPATCH_HEALTH = 'casparian.v1.Sentinel/dispatch';
/** The client API's health name: NOT_SERVING while the database is unreachable ("" stays SERVING: the process is alive). */
export const API_HEALTH = 'casparian.v1.Sentinel';
/** How often the orphaned-output sweep runs (PostgreSQL replicas; one Sentinel sweeps at startup). */
export const SWEEP_EVERY_MS = 10 * 60_000;
/** How often replicas look for staging dirs of attempts that lost their lease. */
export const STAGING_SWEEP_MS = 5_000;
/** How often a replica checks that its database answers (PostgreSQL). */
const DB_PROBE_MS = 1_000;

const TRANSITIONS: Transitions<SentinelState> = {
  created: ['started', 'draining'],
  started: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

export class Sentinel {
  private readonly fsm: StateMachine<SentinelState>;
  readonly events = new JobEvents();
  readonly lifecycle: JobLifecycle;
  readonly scheduler: Scheduler;
  readonly store: LocalOutputStore;
  /** Delivers committed outputs to sink routes; started with the server, catching up what a crash left pending. */
  readonly sinks: SinkDelivery;
  /** Keeps `{dataDir}/catalog.duckdb` current (one view per dataset). */
  readonly catalog: CatalogWriter;
  readonly api: ClientApi;
  /** Prometheus metrics; served by the CLI when --metrics-port is set. */
  readonly metrics: SentinelMetrics;
  private readonly ctx: RpcContext;
  private server: ManagedServer | undefined;
  private stopping: Promise<void> | undefined;
  /** The automatic retention timer (--retain-seconds). */
  private retention: NodeJS.Timeout | undefined;
  private retaining = false;
  /** How the gRPC server stopped: 'graceful' when every call ended within the grace period. */
  stoppedHow: 'graceful' | 'forced' | undefined;
  /** The other replicas (PostgreSQL); carries nothing with one Sentinel (SQLite). */
  readonly bus: ReplicaBus;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stagingTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private sessionsTimer: NodeJS.Timeout | undefined;
  /** The database answered the last probe. */
  private dbUp = true;
  /** The scheduler paused dispatch for lack of disk (its reason), or ''. */
  private lowDisk = '';

  private constructor(
    readonly cfg: Readonly<SentinelConfig>,
    readonly db: Db,
    readonly logger: Logger,
    readonly clock: Clock,
    writers: OutputWriterFactory,
    bus: ReplicaBus,
  ) {
    this.fsm = new StateMachine('Sentinel', 'created', TRANSITIONS, logger);
    this.bus = bus;
    this.events.forward = (e) => bus.publish(e);
    this.store = new LocalOutputStore(cfg.outputRoot, { writers });
    // The scheduler settles through the lifecycle, and the lifecycle wakes the scheduler (and the other replicas'
    // schedulers: work this replica queued may fit their workers).
    const slots: SlotControl = {
      release: (jobId) => this.scheduler.release(jobId),
      freeSlot: (workerId, jobId) => this.scheduler.freeSlot(workerId, jobId),
      kick: () => {
        this.scheduler.kick();
        bus.publish({ kind: 'kick' });
      },
      cancelOnWorker: (job, reason) => {
        if (this.scheduler.cancelOnWorker(job, reason)) return true;
        // Its worker may be connected to another replica.
        if (job.worker_id && job.lease_token) bus.publish({ kind: 'cancel', job: { id: job.id, attempt: job.attempt, lease_token: job.lease_token, worker_id: job.worker_id }, reason });
        return false;
      },
      refreshPaused: async () => {
        await this.scheduler.refreshPaused();
        bus.publish({ kind: 'plugins' });
      },
    };
    this.lifecycle = new JobLifecycle({ db, clock, events: this.events, policy: cfg, slots, logger: logger.scope({ component: 'lifecycle' }) });
    this.scheduler = new Scheduler({
      db,
      clock,
      lifecycle: this.lifecycle,
      tickMs: cfg.tickMs,
      logger: logger.scope({ component: 'scheduler' }),
      diskFloor: { dir: cfg.outputRoot, minFreeBytes: cfg.minFreeBytes },
      onDispatched: (waitedMs) => this.metrics.dispatchLatency.observe(waitedMs / 1000),
      onDispatchPaused: (reason) => {
        this.lowDisk = reason;
        this.reportHealth();
      },
    });
    this.metrics = new SentinelMetrics(db, () => this.scheduler);
    this.catalog = new CatalogWriter({
      file: path.join(cfg.dataDir, CATALOG_FILE),
      outputsRoot: this.store.outputsRoot,
      listNames: () => listDatasetNames(db),
      logger: logger.scope({ component: 'catalog' }),
    });
    this.sinks = new SinkDelivery({ db, store: this.store, dataDir: cfg.dataDir, logger: logger.scope({ component: 'sinks' }), clock });
    // Commits and purges change the datasets every replica's catalog file shows.
    const catalog: CatalogUpdates = {
      committed: (names) => {
        this.catalog.committed(names);
        bus.publish({ kind: 'catalog', names: [...names] });
      },
      removed: () => {
        this.catalog.removed();
        bus.publish({ kind: 'catalog' });
      },
    };
    this.ctx = { db, cfg, clock, events: this.events, lifecycle: this.lifecycle, scheduler: this.scheduler, store: this.store, sinks: this.sinks, logger, metrics: this.metrics, catalog, bus };
    this.api = new ClientApi({
      ...this.ctx,
      accepting: () => this.fsm.is('created', 'started'),
      otherWorkers: bus.replicated ? () => readOtherSessions(db, bus.replicaId, clock.now()) : undefined,
    });
  }

  get state(): SentinelState {
    return this.fsm.state;
  }

  /**
   * Open the database and start the commit writer (provisioning the Parquet
   * helper's env if needed). `hostEnv` is the environment env installs run
   * with (PATH included).
   */
  static async open(cfg: Readonly<SentinelConfig>, logger: Logger, clock: Clock = systemClock, hostEnv: Readonly<NodeJS.ProcessEnv> = {}): Promise<Sentinel> {
    const replicaId = `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    // The output root may be a new directory (a fresh volume): without it the free-space floor would hold dispatch.
    fs.mkdirSync(cfg.outputRoot, { recursive: true });
    const scoped = logger.scope({ service: 'sentinel' });
    const db = await openDatabase(cfg.db, {
      poolSize: cfg.dbPoolSize,
      onPoolError: (err) => scoped.warn('a pooled database connection failed', { error: err.message }),
    });
    let writers: OutputWriterFactory;
    try {
      writers = await openCommitWriters(cfg.commitWriter, cfg.dataDir, scoped, hostEnv);
    } catch (err) {
      await db.destroy();
      throw err;
    }
    const replicated = storeKind(db) === 'postgres';
    const bus = replicated ? new PgBus(replicaId, { db, url: cfg.db, logger: scoped.scope({ component: 'replicas' }) }) : new LocalBus(replicaId);
    const s = new Sentinel(cfg, db, scoped.scope({ replica: replicated ? replicaId : undefined }), clock, writers, bus);
    await s.sweepOutputs();
    s.catalog.schedule(); // the views match the committed outputs from the start, written off the start path
    return s;
  }

  /**
   * Remove output dirs no committed row references (left by a crash between
   * publish and commit, or by a commit whose outcome was unknown). With one
   * Sentinel this runs at startup, before work is accepted, and removes every
   * such dir. Replicas share the output root: there the sweep keeps the dirs
   * of attempts that hold a lease (another replica may be committing them),
   * runs on one replica at a time, and repeats every SWEEP_EVERY_MS.
   */
  async sweepOutputs(): Promise<string[]> {
    let removed: string[] = [];
    const replicated = storeKind(this.db) === 'postgres';
    await runExclusive(this.db, 'outputSweep', async () => {
      // Leased first, then referenced: an attempt that commits in between is in the second read.
      const leased = replicated ? await listLeasedAttempts(this.db) : new Set<string>();
      const referenced = new Set((await listOutputPaths(this.db)).map((p) => path.dirname(p)));
      removed = (await this.store.cleanup(referenced, leased)).removed;
    });
    if (removed.length) this.logger.info('removed uncommitted output dirs', { count: removed.length });
    return removed;
  }

  /** Replicas: write the sessions of this replica's workers, for ListWorkers on the others. */
  private writing = false;
  private async writeSessions(): Promise<void> {
    if (this.writing || !this.fsm.is('started')) return;
    this.writing = true;
    try {
      await writeSessions(this.db, this.bus.replicaId, this.api.localWorkers(), this.clock.now());
    } catch (err) {
      this.logger.debug('worker sessions not written', { error: (err as Error).message });
    } finally {
      this.writing = false;
    }
  }

  /**
   * Replicas: remove staging dirs whose attempt lost its lease (a replica
   * died while receiving it, or its worker did). Cheap (the staging dir holds
   * only attempts in flight), so it runs every STAGING_SWEEP_MS.
   */
  async sweepStaging(): Promise<string[]> {
    let removed: string[] = [];
    await runExclusive(this.db, 'outputSweep', async () => {
      removed = await this.store.sweepStaging((jobIds) => listLeasedAttempts(this.db, jobIds));
    });
    if (removed.length) this.logger.info('removed the staging dirs of attempts that lost their lease', { count: removed.length });
    // This replica's own commits of unknown outcome: decided here, whichever replica holds the sweep.
    const undone = await this.store.settleUncertain(async (jobIds) => ({
      leased: await listLeasedAttempts(this.db, jobIds),
      referenced: new Set([...(await getOutputsOf(this.db, jobIds)).values()].flatMap((os) => os.map((o) => path.dirname(o.parquet_path)))),
    }));
    if (undone.length) this.logger.info('removed published dirs whose commit did not happen (the database went away during it)', { count: undone.length });
    return [...removed, ...undone];
  }

  /** A message from another replica. */
  private fromReplica(m: BusMessage): void {
    switch (m.kind) {
      case 'state':
        this.events.deliver(m);
        void this.scheduler.changedElsewhere(m.jobId).catch((err) => this.logger.warn('could not re-read a job changed elsewhere', { jobId: m.jobId, error: String(err) }));
        return;
      case 'progress':
      case 'log':
        this.events.deliver(m);
        return;
      case 'kick':
        this.scheduler.kick();
        return;
      case 'cancel':
        this.scheduler.cancelOnWorker(m.job, m.reason);
        return;
      case 'plugins':
        void this.scheduler
          .refreshPaused()
          .then(() => this.scheduler.refreshCaps())
          .catch((err) => this.logger.warn('could not re-read plugins changed elsewhere', { error: String(err) }));
        return;
      case 'catalog':
        if (m.names) this.catalog.committed(m.names);
        else this.catalog.removed();
        return;
    }
  }

  /** Health from what the parts say: the API needs the database; dispatch needs the database and disk. */
  private reportHealth(): void {
    this.server?.setHealth(API_HEALTH, this.dbUp);
    this.server?.setHealth(DISPATCH_HEALTH, this.dbUp && !this.lowDisk);
  }

  /** PostgreSQL: probe the database every DB_PROBE_MS; while it does not answer, the API and dispatch are NOT_SERVING. */
  private probeDatabase(): void {
    const once = async () => {
      let up = true;
      try {
        await sql`select 1`.execute(this.db);
      } catch (err) {
        up = false;
        if (this.dbUp) this.logger.error('the database does not answer; reporting NOT_SERVING until it does', { db: redactUrl(this.cfg.db), error: (err as Error).message });
      }
      if (up && !this.dbUp) this.logger.info('the database answers again', { db: redactUrl(this.cfg.db) });
      if (up !== this.dbUp) {
        this.dbUp = up;
        this.reportHealth();
        if (up) {
          this.events.resync();
          this.scheduler.kick();
        }
      }
      if (this.fsm.is('started')) {
        this.probeTimer = setTimeout(() => void once(), DB_PROBE_MS);
        this.probeTimer.unref();
      }
    };
    void once();
  }

  /** Start serving; returns the bound port. */
  async start(): Promise<number> {
    this.fsm.require('start', 'created');
    this.server = await startServer({
      host: this.cfg.host,
      port: this.cfg.port,
      credentials: serverCredentials(this.cfg.tls, this.cfg.host, this.cfg.allowInsecure, 'the Sentinel'),
      interceptors: [callLogInterceptor(this.logger.scope({ component: 'rpc' })), this.metrics.interceptor, ...(this.cfg.auth ? [sentinelGuard(this.cfg.auth, this.logger)] : [])],
      maxConcurrentStreams: this.cfg.maxConcurrentStreams,
      connectionAge: this.cfg.connectionAge,
      keepalive: { timeMs: this.cfg.keepaliveMs, timeoutMs: this.cfg.keepaliveTimeoutMs },
      healthNames: [DISPATCH_HEALTH],
      services: [{ name: 'casparian.v1.Sentinel', definition: SentinelService, impl: sentinelImplementation(this.api, this.ctx, this.logger, () => !this.fsm.is('started')) }],
    });
    await this.bus.start({ message: (m) => this.fromReplica(m), resync: () => this.events.resync() });
    this.scheduler.start();
    this.sinks.start();
    if (this.cfg.retainSeconds > 0) this.retention = setInterval(() => void this.retain(), this.cfg.retentionEveryMs).unref();
    const replicated = storeKind(this.db) === 'postgres';
    if (replicated) {
      this.sessionsTimer = setInterval(() => void this.writeSessions(), REFRESH_MS).unref();
      this.sweepTimer = setInterval(() => void this.sweepOutputs().catch((err) => this.logger.warn('output sweep failed', { error: String(err) })), SWEEP_EVERY_MS).unref();
      this.stagingTimer = setInterval(() => void this.sweepStaging().catch((err) => this.logger.warn('staging sweep failed', { error: String(err) })), STAGING_SWEEP_MS).unref();
    }
    this.fsm.to('started');
    if (replicated) this.probeDatabase();
    this.logger.info('sentinel listening', {
      port: this.server.port,
      dataDir: this.cfg.dataDir,
      db: redactUrl(this.cfg.db),
      outputRoot: this.cfg.outputRoot,
      tls: tlsMode(this.cfg.tls),
      auth: this.cfg.auth ? 'tokens' : 'none',
    });
    return this.server.port;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  /** One round of automatic retention: the same purge as `casparian purge`, pages until none is full. */
  private async retain(): Promise<void> {
    if (this.retaining || !this.fsm.is('started')) return;
    this.retaining = true;
    try {
      // One replica at a time: the others skip this round.
      await runExclusive(this.db, 'retention', async () => {
        for (;;) {
          const r = await this.api.purgeJobs({ olderThanSeconds: this.cfg.retainSeconds, states: [], dryRun: false, limit: 0 });
          if (r.jobs < 10_000) break;
        }
      });
    } catch (err) {
      this.logger.error('automatic retention failed', { error: String(err) });
    } finally {
      this.retaining = false;
    }
  }

  shutdown(graceMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.retention) clearInterval(this.retention);
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      if (this.stagingTimer) clearInterval(this.stagingTimer);
      if (this.probeTimer) clearTimeout(this.probeTimer);
      if (this.sessionsTimer) clearInterval(this.sessionsTimer);
      this.fsm.to('draining');
      this.server?.setServing(false);
      await this.scheduler.stop();
      await this.sinks.stop();
      // End worker streams cleanly: workers keep their running attempts (leases
      // stay valid for a restarted Sentinel) and reconnect with backoff.
      for (const w of this.scheduler.workers.values()) w.close();
      this.stoppedHow = await this.server?.shutdown(graceMs);
      await this.catalog.close();
      if (this.bus.replicated) await dropSessions(this.db, this.bus.replicaId).catch(() => undefined);
      await this.bus.stop();
      await this.db.destroy();
      await this.store.close();
      this.fsm.to('stopped');
      this.logger.info('sentinel stopped', { how: this.stoppedHow });
    })();
    return this.stopping;
  }
}

/** Dispatch and Conclude need a worker token (or an allowed client certificate); every other Sentinel method a client token. */
function sentinelGuard(auth: Readonly<AuthSettings>, logger: Logger): grpc.ServerInterceptor {
  return authInterceptor({
    tokens: new TokenStore(auth.tokensFile, logger.scope({ component: 'auth' })),
    workerCertNames: auth.workerCertNames,
    workerMethods: ['/casparian.v1.Sentinel/Dispatch', '/casparian.v1.Sentinel/Conclude'],
    guardedServices: ['casparian.v1.Sentinel'],
  });
}
