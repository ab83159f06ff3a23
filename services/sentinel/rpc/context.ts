/** What the Sentinel's RPC handlers share; built once by Sentinel and passed to each handler. */
import type { SentinelConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import type { Db } from '../db/open-database';
import type { JobEvents } from '../job-events';
import type { Scheduler } from '../scheduler/scheduler';
import type { OutputStore } from '../sinks/output-store';

export interface RpcContext {
  db: Db;
  cfg: Readonly<SentinelConfig>;
  clock: Clock;
  events: JobEvents;
  scheduler: Scheduler;
  store: OutputStore;
  logger: Logger;
}
