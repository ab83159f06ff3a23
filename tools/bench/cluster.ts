/**
 * A Sentinel and one Worker as real processes on loopback, for one row
 * group: what a user runs, so figures are what a user sees and memory is per
 * service. The worker's env home is the bench's (the warm env is there); the
 * Sentinel's data dir and the inputs are in this run's scratch directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { SentinelClient } from '../cli/client';
import { freePort, ServiceProc } from './service-proc';
import { sleep } from './stats';
import type { BenchContext, Variant } from './types';

export interface ClusterOptions {
  /** Names the cluster's directory, logs and profiles: the row group and variant. */
  name: string;
  variant: Variant;
  slots?: number;
  /** Extra worker flags of this row (after the variant's), e.g. `{ 'env-mode': 'strict' }`. */
  workerFlags?: Flags;
  /** Extra Sentinel flags of this row. */
  sentinelFlags?: Flags;
  /** Serve the worker's own gRPC service (Worker.Run) on a port of its own. */
  workerService?: boolean;
}

async function until(what: string, proc: ServiceProc, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.alive) throw new Error(`${proc.spec.name} exited while waiting for ${what}:\n${proc.tail()}`);
    if (await ok().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${proc.tail()}`);
    await sleep(100);
  }
}

export class BenchCluster {
  readonly client: SentinelClient;

  private constructor(
    readonly dir: string,
    readonly inputDir: string,
    readonly sentinel: ServiceProc,
    readonly worker: ServiceProc,
    readonly workerAddress: string | undefined,
    private readonly lockfile: string,
    private readonly root: string,
    sentinelAddress: string,
  ) {
    this.client = new SentinelClient(sentinelAddress, 120_000);
  }

  static async start(ctx: BenchContext, opts: ClusterOptions): Promise<BenchCluster> {
    const dir = path.join(ctx.work, opts.name);
    const inputDir = path.join(dir, 'in');
    fs.mkdirSync(inputDir, { recursive: true });
    const cli = path.join(ctx.root, 'dist', 'tools', 'casparian.js');
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const common = { cli, profileDir: ctx.profileDir };
    const sentinel = new ServiceProc({
      ...common,
      name: `${opts.name}-sentinel`,
      command: 'sentinel',
      // The Sentinel's Parquet helper env lives beside the worker's envs, built from the same index.
      flags: { 'data-dir': path.join(dir, 'data'), port: String(port), 'input-root': ctx.work, home: ctx.workerHome, 'index-url': ctx.indexUrl, ...opts.sentinelFlags },
      logFile: path.join(dir, 'sentinel.log'),
    });
    const probe = new SentinelClient(address, 2_000);
    const workerId = `bench-${opts.name}`;
    let worker: ServiceProc | undefined;
    try {
      await until('the Sentinel to answer', sentinel, async () => (await probe.listWorkers({}), true), 30_000);
      const workerPort = opts.workerService ? await freePort() : -1;
      const flags: Flags = {
        sentinel: address,
        'worker-id': workerId,
        slots: String(opts.slots ?? 2),
        home: ctx.workerHome,
        'worker-port': String(workerPort),
        'index-url': ctx.indexUrl,
        // The bench publishes its plugins unsigned.
        'allow-unsigned': true,
        ...opts.variant.workerFlags,
        ...opts.workerFlags,
      };
      worker = new ServiceProc({ ...common, name: `${opts.name}-worker`, command: 'worker', flags, logFile: path.join(dir, 'worker.log') });
      await until(`worker ${workerId} to connect`, worker, async () => (await probe.listWorkers({})).workers.some((w) => w.workerId === workerId), 30_000);
      return new BenchCluster(dir, inputDir, sentinel, worker, workerPort > 0 ? `127.0.0.1:${workerPort}` : undefined, ctx.lockfile, ctx.root, address);
    } catch (e) {
      await worker?.stop(0);
      await sentinel.stop(0);
      throw e;
    } finally {
      probe.close();
    }
  }

  /** Publishes bench/plugins/FILE.py as plugin NAME 1.0.0 with the bench lockfile. */
  /** Publish bench/plugins/FILE as NAME, with `extra` source appended (e.g. an OUTPUTS declaration). */
  async publish(name: string, file: string, extra = ''): Promise<void> {
    await this.client.publishPlugin({
      name,
      version: '1.0.0',
      source: fs.readFileSync(path.join(this.root, 'bench', 'plugins', file), 'utf8') + extra,
      lockfile: this.lockfile,
      manifest: { description: 'bench', envAllow: [], maxAttempts: 1, timeouts: undefined, limits: undefined, backoff: undefined, isolation: '', maxConcurrency: 0 },
    });
  }

  /** Writes an input file; returns its path. */
  input(name: string, content: string | Buffer): string {
    const file = path.join(this.inputDir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  /** Worker first (it drains), then the Sentinel; both get SIGTERM, so profiles are written. */
  async stop(): Promise<void> {
    this.client.close();
    await this.worker.stop(30_000);
    await this.sentinel.stop(30_000);
  }
}

/** Runs `body` on a fresh cluster and always stops it. */
export async function withCluster<T>(ctx: BenchContext, opts: ClusterOptions, body: (c: BenchCluster) => Promise<T>): Promise<T> {
  const c = await BenchCluster.start(ctx, opts);
  try {
    return await body(c);
  } finally {
    await c.stop();
  }
}
