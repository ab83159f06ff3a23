/** What the Sentinel's RPC handlers share; built once by Sentinel and passed to each handler (types only). */
import type { SentinelConfig } from '../../common/config';
import type { SentinelMetrics } from '../sentinel-metrics';
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import type { Db } from '../db/open-database';
import type { JobEvents } from '../job-events';
import type { JobLifecycle } from '../lifecycle/job-lifecycle';
import type { Scheduler } from '../scheduler/scheduler';
import type { OutputStore } from '../sinks/output-store';
import type { CatalogUpdates } from '../catalog/catalog-updates';

import type { SinkDelivery } from '../sinks/delivery';
import type { ReplicaBus } from '../replicas/replica-bus';
import type { WorkerInfo } from '../../gen/casparian/v1/types';

export interface RpcContext {
  /** For reads; every state change goes through `lifecycle`. */
  db: Db;
  cfg: Readonly<SentinelConfig>;
  clock: Clock;
  events: JobEvents;
  lifecycle: JobLifecycle;
  scheduler: Scheduler;
  store: OutputStore;
  /** Delivers committed outputs to the plugins' sink routes (absent in tests that need none). */
  sinks?: SinkDelivery;
  logger: Logger;
  /** Told of commits and purges, to keep the catalog file's views current. */
  catalog?: CatalogUpdates;
  /** Prometheus metrics the handlers feed. */
  metrics?: SentinelMetrics;
  /** Tells the other replicas what changed (absent with one Sentinel in tests). */
  bus?: ReplicaBus;
}

export interface ClientApiDeps extends RpcContext {
  /** False while the Sentinel drains: submissions get UNAVAILABLE. */
  accepting(): boolean;
  /** Workers other replicas hold (replicas only). */
  otherWorkers?: () => Promise<WorkerInfo[]>;
}
