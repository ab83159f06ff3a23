/**
 * Starts a real Sentinel and real Workers on localhost (port 0) for
 * integration and e2e tests, and stops everything afterwards.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileSentinelConfig, compileWorkerConfig, type SentinelConfig, type WorkerConfig } from '../../services/common/config';
import { Logger, silentLogger } from '../../services/common/logger';
import { Sentinel as SentinelService } from '../../services/sentinel/sentinel';
import { Worker } from '../../services/worker/worker';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { SentinelClient } from '../../tools/cli/client';
import { testIndexUrl } from './pip-index';
import { REPO_ROOT, testHome } from './python-env';

export const testLogger: Logger = process.env.CASPARIAN_TEST_LOG
  ? new Logger({ level: 'debug', format: 'text' })
  : silentLogger;

export class Cluster {
  readonly workers: Worker[] = [];
  client!: SentinelClient;
  sentinel!: SentinelService;
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-it-'));

  static async start(opts: { sentinel?: Partial<SentinelConfig>; workers?: Partial<WorkerConfig>[] } = {}): Promise<Cluster> {
    const c = new Cluster();
    c.sentinel = await SentinelService.open(
      compileSentinelConfig({ 'data-dir': c.dataDir, port: '0' }, {}, { leaseMs: 10_000, heartbeatIntervalMs: 1_000, tickMs: 200, inputRoots: [os.tmpdir(), REPO_ROOT, '/data'], ...opts.sentinel }),
      testLogger,
    );
    await c.sentinel.start();
    c.client = new SentinelClient(`127.0.0.1:${c.sentinel.port}`);
    for (const w of opts.workers ?? [{}]) await c.addWorker(w);
    return c;
  }

  get address(): string {
    return `127.0.0.1:${this.sentinel.port}`;
  }

  async addWorker(overrides: Partial<WorkerConfig> = {}, hostEnv: Record<string, string | undefined> = process.env): Promise<Worker> {
    const cfg = compileWorkerConfig(
      { sentinel: this.address },
      {},
      { slots: 2, home: testHome(), indexUrl: testIndexUrl(), port: -1, workerId: `w${this.workers.length + 1}-${process.pid}`, ...overrides },
    );
    const w = new Worker(cfg, testLogger, hostEnv);
    await w.start();
    this.workers.push(w);
    await this.waitFor(async () => (await this.client.listWorkers({})).workers.some((x) => x.workerId === cfg.workerId), 10_000);
    return w;
  }

  async waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Poll until the job is in a final state. */
  async waitJob(jobId: string, timeoutMs = 120_000): Promise<Job> {
    let job: Job | undefined;
    await this.waitFor(async () => {
      job = (await this.client.getJob({ jobId, includeLogs: false })).job;
      return [JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED, JobState.JOB_STATE_DEAD_LETTER].includes(job!.state);
    }, timeoutMs);
    return job!;
  }

  async stop(): Promise<void> {
    this.client?.close();
    await Promise.all(this.workers.map((w) => w.shutdown(1_000)));
    await this.sentinel?.shutdown(1_000);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function publish(c: Cluster, name: string, source: string, lockfile: string, version = '1.0.0'): Promise<string> {
  const res = await c.client.publishPlugin({
    name,
    version,
    source,
    lockfile,
    manifest: { description: '', envAllow: [], maxAttempts: 0, timeouts: undefined },
  });
  return res.plugin!.envHash;
}

export async function submit(c: Cluster, plugin: string, inputPath: string, extra: { maxAttempts?: number; idempotencyKey?: string } = {}): Promise<Job> {
  const res = await c.client.submitJob({
    pluginName: plugin,
    pluginVersion: '',
    inputPath,
    idempotencyKey: extra.idempotencyKey ?? '',
    maxAttempts: extra.maxAttempts ?? 0,
    timeouts: undefined,
  });
  return res.job!;
}
