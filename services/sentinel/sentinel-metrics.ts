/**
 * The Sentinel's Prometheus metrics (services/common/metrics.ts): jobs by
 * state and connected workers and slots (read at scrape time), job duration
 * and dispatch latency histograms, Arrow bytes committed, gRPC calls by
 * method and code (and over HTTP).
 */
import type * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';
import { grpcCallCounter, newRegistry, secondsHistogram } from '../common/metrics';
import type { Db } from './db/open-database';
import type { Scheduler } from './scheduler/scheduler';
import { freeSlots } from './scheduler/worker-session';

export class SentinelMetrics {
  readonly registry: Registry;
  readonly interceptor: grpc.ServerInterceptor;
  /** HTTP/JSON API calls by method and final code (the gRPC codes' names). */
  readonly httpCalls: Counter<'method' | 'code'>;
  readonly jobDuration: Histogram<'outcome'>;
  readonly dispatchLatency: Histogram;
  readonly arrowBytesCommitted: Counter;

  constructor(db: Db, scheduler: () => Scheduler) {
    this.registry = newRegistry('sentinel');
    const registers = [this.registry];
    this.interceptor = grpcCallCounter(this.registry).interceptor;
    this.httpCalls = new Counter({ name: 'casparian_http_calls_total', help: 'HTTP/JSON API calls served, by method and status code', labelNames: ['method', 'code'] as const, registers });
    this.jobDuration = secondsHistogram(this.registry, 'casparian_job_duration_seconds', 'Attempt wall time on the worker, by outcome', ['outcome']);
    this.dispatchLatency = secondsHistogram(this.registry, 'casparian_dispatch_latency_seconds', 'From runnable (queued, or retry due) to dispatched');
    this.arrowBytesCommitted = new Counter({ name: 'casparian_arrow_bytes_committed_total', help: 'Arrow IPC bytes of committed attempts', registers });
    new Gauge({
      name: 'casparian_jobs',
      help: 'Jobs by state',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const rows = await db.selectFrom('jobs').select(['state', db.fn.countAll<number>().as('n')]).groupBy('state').execute();
        this.reset();
        for (const r of rows) this.set({ state: r.state }, Number(r.n));
      },
    });
    new Gauge({
      name: 'casparian_workers_connected',
      help: 'Workers with a Dispatch stream to this Sentinel',
      registers,
      collect() {
        this.set(scheduler().workers.size);
      },
    });
    new Gauge({
      name: 'casparian_dispatch_paused',
      help: '1 while dispatch is paused because the data dir is below --min-free-bytes, else 0',
      registers,
      collect() {
        this.set(scheduler().dispatchPausedReason() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'casparian_slots',
      help: 'Worker slots of connected workers, busy and free',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const ws = [...scheduler().workers.values()];
        this.set({ state: 'busy' }, ws.reduce((n, w) => n + w.inFlight.size, 0));
        this.set({ state: 'free' }, ws.reduce((n, w) => n + freeSlots(w), 0));
      },
    });
  }
}
