/**
 * A real Sentinel and real Workers in this process, on localhost (port 0), for
 * integration and e2e tests; `stop()` shuts everything down and removes the
 * cluster's temp root. ProcCluster (proc-cluster.ts) runs the same
 * configuration as separate processes.
 */
import * as fs from 'node:fs';
import { compileSentinelConfig, compileWorkerConfig, type SentinelConfig, type WorkerConfig } from '../../services/common/config';
import { Logger, silentLogger } from '../../services/common/logger';
import { Sentinel } from '../../services/sentinel/sentinel';
import { Worker } from '../../services/worker/worker';
import { TestCluster } from './test-cluster';
import { waitFor } from './wait';

export const testLogger: Logger = process.env.CASPARIAN_TEST_LOG
  ? new Logger({ level: 'debug', format: 'text' })
  : silentLogger;

export interface ClusterOptions {
  /** Overrides of the compiled Sentinel configuration (leases, backoff, input roots…). */
  sentinel?: Partial<SentinelConfig>;
  /** One worker per entry (default: one with 2 slots). */
  workers?: Partial<WorkerConfig>[];
}

export class Cluster extends TestCluster {
  readonly workers: Worker[] = [];
  sentinel!: Sentinel;

  private constructor() {
    super('casparian-it-');
  }

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const c = new Cluster();
    try {
      await c.prepareStore();
      const { flags, env } = c.sentinelConfig(0, { leaseMs: 10_000, heartbeatMs: 1_000 });
      c.sentinel = await Sentinel.open(compileSentinelConfig(flags, env, { tickMs: 200, ...opts.sentinel }), testLogger, undefined, process.env);
      await c.sentinel.start();
      for (const w of opts.workers ?? [{}]) await c.addWorker(w);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get address(): string {
    return `127.0.0.1:${this.sentinel.port}`;
  }

  /** Start a worker in this process (`shimPath`: another bridge shim); resolves once the Sentinel lists it. */
  async addWorker(overrides: Partial<WorkerConfig> = {}, hostEnv: Record<string, string | undefined> = process.env, opts: { shimPath?: string } = {}): Promise<Worker> {
    const workerId = overrides.workerId ?? `w${this.workers.length + 1}-${process.pid}`;
    const { flags, env } = this.workerConfig(workerId, overrides.slots ?? 2);
    const cfg = compileWorkerConfig(flags, env, overrides);
    const w = new Worker(cfg, testLogger, hostEnv, opts);
    await w.start();
    this.workers.push(w);
    await waitFor(`worker ${workerId} to connect`, async () => (await this.client.listWorkers({})).workers.some((x) => x.workerId === workerId), 10_000, 50);
    return w;
  }

  async stop(): Promise<void> {
    this.closeClient();
    await Promise.all(this.workers.map((w) => w.shutdown(1_000)));
    await this.sentinel?.shutdown(1_000);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
