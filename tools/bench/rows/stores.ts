/**
 * Rows 9a–9e (issue 11), the queue's stores: trivial jobs/s and dispatch p99
 * with the Sentinel on PostgreSQL, as one replica and as two, each beside
 * the same measure with one Sentinel on SQLite, taken in the same run.
 *
 * Every configuration runs two workers with 2 slots each (row 1 runs one),
 * so that each of two replicas holds one worker's Dispatch stream. With two
 * replicas, jobs are submitted (and followed) through replica A, so half of
 * them go through the replica bus: a submit on A kicks B's scheduler, and
 * B's state changes reach A's WatchJobs stream. For dispatch latency, single
 * jobs are submitted alternately through A and B, each followed by a WatchJob
 * on A and one on B: row 9e is how much later the final state reached the
 * watcher on the other replica than the one on the replica that made it
 * (LISTEN/NOTIFY, then a re-read of the job).
 *
 * PostgreSQL is a private server the bench starts (the test suite's helper,
 * test/helpers/pg-server.ts: the OS's binaries, else the npm package's),
 * with the test settings (fsync off), so these rows measure the queue's
 * round trips, not a disk's fsync.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../../services/common/config';
import { testPg } from '../../../test/helpers/pg-server';
import { SentinelClient } from '../../cli/client';
import { createdMs, finishedMs, SUBMIT_METHOD, submitJobs, waitBatches, waitJob } from '../jobs';
import { freePort, ServiceProc } from '../service-proc';
import { fmt, quantile, secs, sleep } from '../stats';
import type { BenchContext, Row, RowGroup } from '../types';
import { JobState } from '../../../services/gen/casparian/v1/types';

const FINAL = [JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED, JobState.JOB_STATE_DEAD_LETTER];

const TRIVIAL = 'bench_trivial';
const STAMP = 'bench_stamp';
const IDLE_MS = 50;
const WORKERS = 2;

interface StoreSetup {
  name: string;
  store: 'sqlite' | 'postgres';
  replicas: number;
}

const SETUPS: readonly StoreSetup[] = [
  { name: 'sqlite', store: 'sqlite', replicas: 1 },
  { name: 'postgres-1', store: 'postgres', replicas: 1 },
  { name: 'postgres-2', store: 'postgres', replicas: 2 },
];

/** Replicas and workers as real processes; workers w0, w1 dial replica i % replicas first. */
class StoreCluster {
  private constructor(
    readonly dir: string,
    readonly sentinels: ServiceProc[],
    readonly workers: ServiceProc[],
    readonly clients: SentinelClient[],
    private readonly ctx: BenchContext,
  ) {}

  static async start(ctx: BenchContext, s: StoreSetup): Promise<StoreCluster> {
    const dir = path.join(ctx.work, `stores-${s.name}`);
    fs.mkdirSync(path.join(dir, 'in'), { recursive: true });
    const cli = path.join(ctx.root, 'dist', 'tools', 'casparian.js');
    const shared: Flags = {};
    if (s.store === 'postgres') shared.db = await (await testPg()).createDatabase('bench');
    if (s.replicas > 1) shared['output-root'] = path.join(dir, 'shared');
    const ports: number[] = [];
    for (let i = 0; i < s.replicas; i++) ports.push(await freePort());
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    const sentinels: ServiceProc[] = [];
    const workers: ServiceProc[] = [];
    const clients = addresses.map((a) => new SentinelClient(a, 120_000));
    const c = new StoreCluster(dir, sentinels, workers, clients, ctx);
    try {
      for (let i = 0; i < s.replicas; i++) {
        sentinels.push(
          new ServiceProc({
            cli,
            profileDir: ctx.profileDir,
            name: `stores-${s.name}-sentinel-${i}`,
            command: 'sentinel',
            flags: { 'data-dir': path.join(dir, `data-${i}`), port: String(ports[i]), 'input-root': ctx.work, home: ctx.workerHome, 'index-url': ctx.indexUrl, ...shared },
            logFile: path.join(dir, `sentinel-${i}.log`),
          }),
        );
        await c.until(`replica ${i} to answer`, sentinels[i], async () => (await clients[i].listWorkers({}), true));
      }
      for (let w = 0; w < WORKERS; w++) {
        const first = w % s.replicas;
        const order = [...addresses.slice(first), ...addresses.slice(0, first)];
        workers.push(
          new ServiceProc({
            cli,
            profileDir: ctx.profileDir,
            name: `stores-${s.name}-worker-${w}`,
            command: 'worker',
            flags: { sentinel: order.join(','), 'worker-id': `bench-${s.name}-${w}`, slots: '2', home: ctx.workerHome, 'worker-port': '-1', 'index-url': ctx.indexUrl, 'allow-unsigned': true },
            logFile: path.join(dir, `worker-${w}.log`),
          }),
        );
      }
      // ListWorkers on any replica lists every replica's workers.
      await c.until('the workers to connect', workers[0], async () => (await clients[0].listWorkers({})).workers.length === WORKERS);
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  private async until(what: string, proc: ServiceProc, ok: () => Promise<boolean>): Promise<void> {
    const end = Date.now() + 60_000;
    for (;;) {
      if (!proc.alive) throw new Error(`${proc.spec.name} exited while waiting for ${what}:\n${proc.tail()}`);
      if (await ok().catch(() => false)) return;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${proc.tail()}`);
      await sleep(100);
    }
  }

  input(name: string): string {
    const file = path.join(this.dir, 'in', name);
    fs.writeFileSync(file, 'x\n');
    return file;
  }

  async publish(name: string, file: string): Promise<void> {
    await this.clients[0].publishPlugin({
      name,
      version: '1.0.0',
      source: fs.readFileSync(path.join(this.ctx.root, 'bench', 'plugins', file), 'utf8'),
      lockfile: this.ctx.lockfile,
      manifest: { description: 'bench', envAllow: [], maxAttempts: 1, timeouts: undefined, limits: undefined, backoff: undefined, isolation: '', maxConcurrency: 0 },
    });
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.workers.map((w) => w.stop(30_000)));
    await Promise.all(this.sentinels.map((s) => s.stop(30_000)));
  }
}

interface Figures {
  rate: number;
  wallMs: number;
  latencyMs: number[];
  /** Two replicas: per job, |arrival of the final state on A − on B|, ms. */
  watchGapMs: number[];
}

/** Follows a job on one replica's WatchJob: when its final state arrived, and whether the watch began before it. */
async function finalArrival(client: SentinelClient, jobId: string): Promise<{ at: number; live: boolean }> {
  let at = 0;
  let first: JobState | undefined;
  for await (const m of client.watchJob(jobId)) {
    first ??= m.job?.state;
    at = Date.now();
  }
  return { at, live: first !== undefined && !FINAL.includes(first) };
}

async function measure(ctx: BenchContext, s: StoreSetup): Promise<Figures> {
  const c = await StoreCluster.start(ctx, s);
  try {
    await c.publish(TRIVIAL, 'trivial.py');
    await c.publish(STAMP, 'stamp.py');
    await waitBatches(c.clients[0], (await submitJobs(c.clients[0], TRIVIAL, [0, 1, 2, 3].map((i) => c.input(`warm-${i}.txt`)))).batchIds);
    const n = ctx.scale.trivialJobs;
    const inputs = Array.from({ length: n }, (_, i) => c.input(`t-${i}.txt`));
    const t0 = Date.now();
    const { batchIds } = await submitJobs(c.clients[0], TRIVIAL, inputs);
    const done = await waitBatches(c.clients[0], batchIds);
    const wallMs = Math.max(...done.map(finishedMs)) - t0;

    const latencyMs: number[] = [];
    const watchGapMs: number[] = [];
    for (let i = -3; i < ctx.scale.latencySamples; i++) {
      const via = c.clients[(i + 3) % c.clients.length];
      const input = c.input(`s${i}.txt`);
      const job = (await via.submitJob({ pluginName: STAMP, inputPath: input, maxAttempts: 1 })).job!;
      if (c.clients.length > 1) {
        const arrivals = await Promise.all(c.clients.map((cl) => finalArrival(cl, job.id)));
        // Only jobs both watchers saw before they finished: a snapshot of a finished job says nothing of the bus.
        if (i >= 0 && arrivals.every((a) => a.live)) watchGapMs.push(Math.max(...arrivals.map((a) => a.at)) - Math.min(...arrivals.map((a) => a.at)));
      }
      await waitJob(via, job.id, 300_000);
      if (i >= 0) latencyMs.push(1000 * Number(fs.readFileSync(`${input}.start`, 'utf8')) - createdMs(job));
      await sleep(IDLE_MS);
    }
    return { rate: n / (wallMs / 1000), wallMs, latencyMs, watchGapMs };
  } finally {
    await c.stop();
  }
}

export const storesGroup: RowGroup = {
  name: 'stores',
  rows: '9a-9e',
  perVariant: false,
  async run(ctx): Promise<Row[]> {
    const figures = new Map<string, Figures>();
    for (const s of SETUPS) {
      const f = await measure(ctx, s);
      figures.set(s.name, f);
      ctx.say(`  ${s.name}: ${f.rate.toFixed(1)} jobs/s, dispatch p99 ${fmt(quantile(f.latencyMs, 0.99))} ms`);
    }
    const ref = figures.get('sqlite')!;
    const n = ctx.scale.trivialJobs;
    const rows: Row[] = [];
    for (const [id, name, label] of [
      ['9a', 'postgres-1', 'PostgreSQL, 1 replica'],
      ['9b', 'postgres-2', 'PostgreSQL, 2 replicas'],
    ] as const) {
      const f = figures.get(name)!;
      rows.push({
        id,
        title: `trivial jobs/s, ${label}`,
        unit: 'jobs/s',
        better: 'higher',
        value: f.rate,
        reference: ref.rate,
        refLabel: 'one Sentinel on SQLite, same workers',
        note: `n=${n} one-row jobs, ${WORKERS} workers × 2 slots, warm env; ${SUBMIT_METHOD} through replica A (${secs(f.wallMs)}; SQLite ${secs(ref.wallMs)})`,
        detail: { wallMs: f.wallMs, sqliteWallMs: ref.wallMs },
      });
    }
    for (const [id, name, label] of [
      ['9c', 'postgres-1', 'PostgreSQL, 1 replica'],
      ['9d', 'postgres-2', 'PostgreSQL, 2 replicas'],
    ] as const) {
      const f = figures.get(name)!;
      rows.push({
        id,
        title: `dispatch p99, ${label}`,
        unit: 'ms',
        better: 'lower',
        value: quantile(f.latencyMs, 0.99),
        reference: quantile(ref.latencyMs, 0.99),
        refLabel: 'one Sentinel on SQLite, same workers',
        note: `n=${f.latencyMs.length} sequential jobs${name === 'postgres-2' ? ' submitted alternately through A and B' : ''}, ${IDLE_MS} ms idle between; created_at → parse() entry; p50 ${fmt(quantile(f.latencyMs, 0.5))} ms (SQLite ${fmt(quantile(ref.latencyMs, 0.5))} ms)`,
        detail: { samplesMs: f.latencyMs, sqliteSamplesMs: ref.latencyMs },
      });
    }
    const two = figures.get('postgres-2')!;
    rows.push({
      id: '9e',
      title: 'WatchJob on the other replica, extra delay p99',
      unit: 'ms',
      better: 'lower',
      value: two.watchGapMs.length ? quantile(two.watchGapMs, 0.99) : undefined,
      failed: two.watchGapMs.length ? undefined : 'no job was seen by both watchers before it ended',
      refLabel: 'the watcher on the replica that made the change',
      refMissing: '—',
      note: `n=${two.watchGapMs.length} jobs (of ${two.latencyMs.length}; those both watchers saw before they ended), each watched on A and on B; how much later its final state reached one than the other; p50 ${fmt(quantile(two.watchGapMs, 0.5))} ms`,
      detail: { samplesMs: two.watchGapMs },
    });
    return rows;
  },
};
