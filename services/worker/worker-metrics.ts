/**
 * A worker's Prometheus metrics (services/common/metrics.ts): env installs
 * (duration, failures by code), Arrow bytes forwarded, slots busy and free
 * (read at scrape time), gRPC calls on its own server.
 */
import type * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import { grpcCallCounter, newRegistry, secondsHistogram } from '../common/metrics';
import type { AttemptObserver } from './attempt/execute-attempt';

export class WorkerMetrics {
  readonly registry: Registry;
  readonly interceptor: grpc.ServerInterceptor;
  readonly observer: AttemptObserver;

  constructor(slots: number, busy: () => number) {
    this.registry = newRegistry('worker');
    const registers = [this.registry];
    this.interceptor = grpcCallCounter(this.registry).interceptor;
    const provision = secondsHistogram(this.registry, 'casparian_env_provision_seconds', 'Env installs this worker ran, by duration');
    const failures = new Counter({ name: 'casparian_env_provision_failures_total', help: 'Env acquisitions that failed, by error code', labelNames: ['code'] as const, registers });
    const forwarded = new Counter({ name: 'casparian_arrow_bytes_forwarded_total', help: 'Arrow IPC bytes forwarded to the Sentinel', registers });
    new Gauge({
      name: 'casparian_slots',
      help: 'This worker\'s slots, busy and free',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const b = busy();
        this.set({ state: 'busy' }, b);
        this.set({ state: 'free' }, Math.max(0, slots - b));
      },
    });
    this.observer = {
      envProvisioned: (ms) => provision.observe(ms / 1000),
      envFailed: (code) => failures.inc({ code }),
      attemptDone: (bytes) => forwarded.inc(bytes),
    };
  }
}
