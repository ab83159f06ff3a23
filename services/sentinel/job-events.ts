/**
 * In-process pub/sub of job events for WatchJob and the CLI's progress view.
 * State events are published after the database write they describe.
 */
import { EventEmitter } from 'node:events';

export type JobEvent =
  | { kind: 'state'; jobId: string }
  | { kind: 'progress'; jobId: string; rows: number; fraction: number; message: string }
  | { kind: 'log'; jobId: string; attempt: number; level: string; source: string; message: string; time: number };

export class JobEvents {
  private readonly emitter = new EventEmitter();
  /** Where this replica's events also go (the other replicas, replica-bus.ts); none for one Sentinel. */
  forward: ((e: JobEvent) => void) | undefined;
  constructor() {
    this.emitter.setMaxListeners(0);
  }
  /** An event of this replica: to its subscribers, and forwarded. */
  publish(e: JobEvent): void {
    this.deliver(e);
    this.forward?.(e);
  }
  /** An event (of another replica) to this replica's subscribers only. */
  deliver(e: JobEvent): void {
    this.emitter.emit(e.jobId, e);
    this.emitter.emit('*', e);
  }
  /** Events may have been missed (the replica bus was away): every watched job gets a state event, so it is re-read. */
  resync(): void {
    for (const name of this.emitter.eventNames()) {
      if (typeof name === 'string' && name !== '*') this.emitter.emit(name, { kind: 'state', jobId: name });
    }
  }
  /** Subscribe to one job's events ('*' for all); returns the unsubscribe function. */
  subscribe(jobId: string, fn: (e: JobEvent) => void): () => void {
    this.emitter.on(jobId, fn);
    return () => this.emitter.off(jobId, fn);
  }
}
