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
import * as grpc from '@grpc/grpc-js';
import { authInterceptor, checkCall, type GuardOptions } from '../common/auth/guard';
import { HttpApi } from './http/http-api';
import { startHttpServer, type RunningHttpServer } from './http/http-server';
import { CONSOLE_DIR } from './http/static-files';
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
import { listDatasetNames } from './queue';
import { storeKind } from './db/dialect';
import { runExclusive } from './db/singleton';
import { ReplicaDuties } from './replicas/replica-duties';
import { redactUrl } from '../common/store-target';
import { LocalBus, type ReplicaBus } from './replicas/replica-bus';
import { PgBus } from './replicas/pg-bus';
import type { CatalogUpdates } from './catalog/catalog-updates';
import { readOtherSessions } from './replicas/worker-registry';
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
  /** The web console and HTTP/JSON API (--http-port). */
  private http: RunningHttpServer | undefined;
  /** Who may call what: one token store for the gRPC and the HTTP port. */
  private readonly guard: GuardOptions | undefined;
  private stopping: Promise<void> | undefined;
  /** The automatic retention timer (--retain-seconds). */
  private retention: NodeJS.Timeout | undefined;
  private retaining = false;
  /** How the gRPC server stopped: 'graceful' when every call ended within the grace period. */
  stoppedHow: 'graceful' | 'forced' | undefined;
  /** The other replicas (PostgreSQL); carries nothing with one Sentinel (SQLite). */
  readonly bus: ReplicaBus;
  /** Sweeps, the database probe, worker sessions and messages from other replicas. */
  readonly replicas: ReplicaDuties;
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
    this.lifecycle = new JobLifecycle({
      db,
      clock,
      events: this.events,
      policy: cfg,
      slots,
      logger: logger.scope({ component: 'lifecycle' }),
      attemptEnded: (jobId, attempt) => void this.dropLostAttempt(jobId, attempt),
    });
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
    this.guard = cfg.auth ? sentinelGuard(cfg.auth, logger) : undefined;
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
    this.replicas = new ReplicaDuties({
      db,
      bus,
      store: this.store,
      events: this.events,
      scheduler: this.scheduler,
      catalog: this.catalog,
      clock,
      logger,
      dbLabel: redactUrl(cfg.db),
      localWorkers: () => this.api.localWorkers(),
      onDatabase: (up) => {
        this.dbUp = up;
        this.reportHealth();
      },
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
    await s.replicas.sweepOutputs();
    s.catalog.schedule(); // the views match the committed outputs from the start, written off the start path
    return s;
  }

  /**
   * An attempt settled without committing, so it never will (the fence holds
   * its lease token): what it published goes. This is the dir a replica killed
   * between its publish and its commit leaves on a shared output root.
   */
  private async dropLostAttempt(jobId: string, attempt: number): Promise<void> {
    try {
      if (await this.store.removeLostAttempt(jobId, attempt)) this.logger.info('removed what an attempt published before it was settled without committing', { jobId, attempt });
    } catch (err) {
      this.logger.warn("could not remove a lost attempt's dir", { jobId, attempt, error: String(err) });
    }
  }

  /** Health from what the parts say: the API needs the database; dispatch needs the database and disk. */
  private reportHealth(): void {
    this.server?.setHealth(API_HEALTH, this.dbUp);
    this.server?.setHealth(DISPATCH_HEALTH, this.dbUp && !this.lowDisk);
  }

  /** Start serving; returns the bound port. */
  async start(): Promise<number> {
    this.fsm.require('start', 'created');
    // The gRPC server and the HTTP API run the same handlers.
    const impl = sentinelImplementation(this.api, this.ctx, this.logger, () => !this.fsm.is('started'));
    this.server = await startServer({
      host: this.cfg.host,
      port: this.cfg.port,
      credentials: serverCredentials(this.cfg.tls, this.cfg.host, this.cfg.allowInsecure, 'the Sentinel'),
      interceptors: [callLogInterceptor(this.logger.scope({ component: 'rpc' })), this.metrics.interceptor, ...(this.guard ? [authInterceptor(this.guard)] : [])],
      maxConcurrentStreams: this.cfg.maxConcurrentStreams,
      connectionAge: this.cfg.connectionAge,
      keepalive: { timeMs: this.cfg.keepaliveMs, timeoutMs: this.cfg.keepaliveTimeoutMs },
      healthNames: [DISPATCH_HEALTH],
      services: [{ name: 'casparian.v1.Sentinel', definition: SentinelService, impl }],
    });
    if (this.cfg.http) {
      const guard = this.guard;
      const api = new HttpApi({
        service: 'casparian.v1.Sentinel',
        definition: SentinelService,
        impl,
        logger: this.logger.scope({ component: 'http' }),
        authorize: guard ? (p, authorization) => checkCall(guard, p, bearerMetadata(authorization), undefined) : undefined,
        count: (method, code) => this.metrics.httpCalls.inc({ method, code }),
      });
      try {
        this.http = await startHttpServer({ at: this.cfg.http, tls: this.cfg.tls, allowInsecure: this.cfg.allowInsecure, api, consoleDir: CONSOLE_DIR, logger: this.logger });
      } catch (err) {
        await this.server.shutdown(0);
        throw err;
      }
    }
    this.scheduler.start();
    this.sinks.start();
    if (this.cfg.retainSeconds > 0) this.retention = setInterval(() => void this.retain(), this.cfg.retentionEveryMs).unref();
    this.fsm.to('started');
    await this.replicas.start();
    this.logger.info('sentinel listening', {
      port: this.server.port,
      ...(this.http ? { console: this.http.url } : {}),
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

  /** The web console's URL (also the HTTP/JSON API's base); undefined without --http-port. */
  get httpUrl(): string | undefined {
    return this.http?.url;
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
      this.fsm.to('draining');
      this.server?.setServing(false);
      await this.scheduler.stop();
      await this.sinks.stop();
      // End worker streams cleanly: workers keep their running attempts (leases
      // stay valid for a restarted Sentinel) and reconnect with backoff.
      for (const w of this.scheduler.workers.values()) w.close();
      this.stoppedHow = await this.server?.shutdown(graceMs);
      await this.http?.close();
      await this.catalog.close();
      await this.replicas.stop();
      await this.db.destroy();
      await this.store.close();
      this.fsm.to('stopped');
      this.logger.info('sentinel stopped', { how: this.stoppedHow });
    })();
    return this.stopping;
  }
}

/** Dispatch and Conclude need a worker token (or an allowed client certificate); every other Sentinel method a client token. */
function sentinelGuard(auth: Readonly<AuthSettings>, logger: Logger): GuardOptions {
  return {
    tokens: new TokenStore(auth.tokensFile, logger.scope({ component: 'auth' })),
    workerCertNames: auth.workerCertNames,
    workerMethods: ['/casparian.v1.Sentinel/Dispatch', '/casparian.v1.Sentinel/Conclude'],
    guardedServices: ['casparian.v1.Sentinel'],
  };
}

/** An HTTP Authorization header as the metadata the guard reads. */
function bearerMetadata(authorization: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (authorization !== undefined) md.set('authorization', authorization);
  return md;
}
