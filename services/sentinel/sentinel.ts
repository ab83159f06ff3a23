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
import * as path from 'node:path';
import type { SentinelConfig } from '../common/config';
import { startServer, type ManagedServer } from '../common/grpc-server';
import type { Logger } from '../common/logger';
import { systemClock, type Clock } from './clock';
import { openDatabase, type Db } from './db/open-database';
import { JobEvents } from './job-events';
import { listOutputPaths } from './queue';
import { ClientApi } from './rpc/client-api';
import { SentinelService, sentinelImplementation } from './rpc/sentinel-service';
import { Scheduler } from './scheduler/scheduler';
import { OutputStore } from './sinks/output-store';

export type SentinelState = 'created' | 'started' | 'draining' | 'stopped';

export class Sentinel {
  state: SentinelState = 'created';
  readonly events = new JobEvents();
  readonly scheduler: Scheduler;
  readonly store: OutputStore;
  readonly api: ClientApi;
  private server: ManagedServer | undefined;
  private stopping: Promise<void> | undefined;
  /** How the gRPC server stopped: 'graceful' when every call ended within the grace period. */
  stoppedHow: 'graceful' | 'forced' | undefined;

  private constructor(
    readonly cfg: Readonly<SentinelConfig>,
    readonly db: Db,
    readonly logger: Logger,
    readonly clock: Clock,
  ) {
    this.store = new OutputStore(cfg.dataDir);
    this.scheduler = new Scheduler(db, cfg, clock, this.events, logger.scope({ component: 'scheduler' }));
    this.api = new ClientApi({
      db,
      cfg,
      clock,
      events: this.events,
      scheduler: this.scheduler,
      store: this.store,
      logger,
      accepting: () => this.state === 'started' || this.state === 'created',
    });
  }

  static async open(cfg: Readonly<SentinelConfig>, logger: Logger, clock: Clock = systemClock): Promise<Sentinel> {
    const db = await openDatabase(path.join(cfg.dataDir, 'sentinel.db'));
    const s = new Sentinel(cfg, db, logger.scope({ service: 'sentinel' }), clock);
    const referenced = new Set((await listOutputPaths(db)).map((p) => path.dirname(p)));
    const { removed } = await s.store.cleanup(referenced);
    if (removed.length) s.logger.info('removed uncommitted output dirs', { count: removed.length });
    return s;
  }

  /** Start serving; returns the bound port. */
  async start(): Promise<number> {
    if (this.state !== 'created') throw new Error(`cannot start a Sentinel in state ${this.state}`);
    const deps = { db: this.db, cfg: this.cfg, clock: this.clock, events: this.events, scheduler: this.scheduler, store: this.store, logger: this.logger };
    this.server = await startServer({
      host: this.cfg.host,
      port: this.cfg.port,
      services: [{ name: 'casparian.v1.Sentinel', definition: SentinelService, impl: sentinelImplementation(this.api, deps, this.logger, () => this.state !== 'started') }],
    });
    this.scheduler.start();
    this.state = 'started';
    this.logger.info('sentinel listening', { port: this.server.port, dataDir: this.cfg.dataDir });
    return this.server.port;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  shutdown(graceMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'draining';
      this.server?.setServing(false);
      await this.scheduler.stop();
      // End worker streams cleanly: workers keep their running attempts (leases
      // stay valid for a restarted Sentinel) and reconnect with backoff.
      for (const w of this.scheduler.workers.values()) w.close();
      this.stoppedHow = await this.server?.shutdown(graceMs);
      await this.db.destroy();
      this.state = 'stopped';
      this.logger.info('sentinel stopped', { how: this.stoppedHow });
    })();
    return this.stopping;
  }
}
