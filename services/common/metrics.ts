/**
 * Prometheus metrics (prom-client). Each service owns a Registry of its own
 * (so a Sentinel and a worker in one process, as `casparian start` runs them,
 * do not collide), with names prefixed `casparian_`, and serves it on
 * `--metrics-port` at /metrics, on loopback unless `--metrics-host` says
 * otherwise. Off when no port is given.
 */
import * as http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Seconds buckets for job durations and latencies: 5 ms … 1 h. */
export const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export function newRegistry(service: 'sentinel' | 'worker'): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'casparian_' });
  return registry;
}

/** gRPC calls by method and final status, counted by a server interceptor. */
export function grpcCallCounter(registry: Registry): { counter: Counter<'method' | 'code'>; interceptor: grpc.ServerInterceptor } {
  const counter = new Counter({ name: 'casparian_grpc_calls_total', help: 'gRPC calls served, by method and status code', labelNames: ['method', 'code'] as const, registers: [registry] });
  const interceptor: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, next) => {
        counter.inc({ method: method.path.split('/').pop() ?? method.path, code: grpc.status[status.code] ?? String(status.code) });
        next(status);
      },
    });
  return { counter, interceptor };
}

export function secondsHistogram<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets: SECONDS_BUCKETS, registers: [registry] });
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serve `registries` (merged) on host:port at /metrics. */
export async function serveMetrics(registries: Registry[], host: string, port: number): Promise<MetricsServer> {
  const registry = registries.length === 1 ? registries[0] : Registry.merge(registries);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
