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
  constructor() {
    this.emitter.setMaxListeners(0);
  }
  publish(e: JobEvent): void {
    this.emitter.emit(e.jobId, e);
    this.emitter.emit('*', e);
  }
  /** Subscribe to one job's events ('*' for all); returns the unsubscribe function. */
  subscribe(jobId: string, fn: (e: JobEvent) => void): () => void {
    this.emitter.on(jobId, fn);
    return () => this.emitter.off(jobId, fn);
  }
}
