/**
 * What one Sentinel replica tells the others. Replicas share the database,
 * but each holds its own workers' streams and watchers, so a change made on
 * one must reach the others:
 *
 *   job events (state, progress, log)  watchers on any replica see them;
 *   kick                               runnable work appeared: fill free slots;
 *   cancel                             stop an attempt running on a worker of yours;
 *   plugins                            pauses, resumes or caps changed: re-read them;
 *   catalog                            datasets committed (names) or purged (none).
 *
 * On SQLite there is one Sentinel and the bus carries nothing (LocalBus). On
 * PostgreSQL it is LISTEN/NOTIFY (pg-bus.ts). Delivery is best effort: a
 * replica that loses its listening connection misses what was sent
 * meanwhile, so everything here is also caught up by polling (the scheduler's
 * tick, WatchJob's quiet-second re-read, the catalog at the next commit), and
 * `resync` is called when the connection comes back.
 */
import type { JobEvent } from '../job-events';

export type BusMessage =
  | JobEvent
  | { kind: 'kick' }
  | { kind: 'cancel'; job: { id: string; attempt: number; lease_token: string; worker_id: string }; reason: string }
  | { kind: 'plugins' }
  | { kind: 'catalog'; names?: string[] };

export interface BusHandlers {
  /** A message from another replica. */
  message(m: BusMessage): void;
  /** The bus reconnected after missing messages: re-read what they would have said. */
  resync(): void;
}

export interface ReplicaBus {
  /** This replica's id (host, pid and a random part). */
  readonly replicaId: string;
  /** Whether other replicas may exist (a shared PostgreSQL store). */
  readonly replicated: boolean;
  /** Send to every other replica; returns at once. */
  publish(m: BusMessage): void;
  start(h: BusHandlers): Promise<void>;
  stop(): Promise<void>;
}

/** One Sentinel (SQLite): nobody to tell. */
export class LocalBus implements ReplicaBus {
  readonly replicated = false;
  constructor(readonly replicaId: string) {}
  publish(): void {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
