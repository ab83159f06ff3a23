/**
 * Pipeline throughput: a real Sentinel and Worker in this process, a warm env,
 * N small jobs (jobs/s, latency), then one large-output job (MB/s through
 * Conclude → Parquet → FetchOutput).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileSentinelConfig, compileWorkerConfig } from '../../services/common/config';
import { silentLogger } from '../../services/common/logger';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { Sentinel } from '../../services/sentinel/sentinel';
import { Worker } from '../../services/worker/worker';
import { SentinelClient } from '../cli/client';
import type { BenchContext } from './envs';
import { median, ms, p95, secs, timed, type Figure } from './stats';

const SMALL = `
import pyarrow.csv as csv
def parse(path):
    return csv.read_csv(path)
`;

const LARGE_ROWS = 2_000_000;
const LARGE = `
import pyarrow as pa
import pyarrow.compute as pc
def parse(path):
    n = ${LARGE_ROWS}
    step = 250_000
    for start in range(0, n, step):
        ids = pa.array(range(start, min(n, start + step)), type=pa.int64())
        yield pa.record_batch({"id": ids, "x": pc.multiply(ids, 0.5), "y": pc.multiply(ids, 3)})
`;

const FINAL = new Set([JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);
const MB = 1024 * 1024;

async function waitAll(client: SentinelClient, plugin: string, n: number, timeoutMs: number): Promise<Job[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { jobs } = await client.listJobs({ state: 0, pluginName: plugin, pageSize: 1000, pageToken: '' });
    if (jobs.length >= n && jobs.every((j) => FINAL.has(j.state))) return jobs;
    if (Date.now() > end) throw new Error(`${plugin}: jobs not finished within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function publish(client: SentinelClient, name: string, source: string, lockfile: string): Promise<void> {
  await client.publishPlugin({
    name,
    version: '1.0.0',
    source,
    lockfile,
    manifest: { description: 'bench', envAllow: [], maxAttempts: 1, timeouts: undefined, isolation: '' },
  });
}

const submit = (client: SentinelClient, plugin: string, inputPath: string) =>
  client.submitJob({ pluginName: plugin, pluginVersion: '', inputPath, idempotencyKey: '', maxAttempts: 1, timeouts: undefined });

export async function benchPipeline(ctx: BenchContext, figures: Figure[], n: number): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-bench-pipeline-'));
  const dataDir = path.join(work, 'sentinel');
  const inputs = path.join(work, 'inputs');
  fs.mkdirSync(inputs);
  const sentinel = await Sentinel.open(
    compileSentinelConfig({ 'data-dir': dataDir, port: '0' }, {}, { inputRoots: [work], leaseMs: 30_000, heartbeatIntervalMs: 2_000, tickMs: 200 }),
    silentLogger,
  );
  const port = await sentinel.start();
  const cfg = compileWorkerConfig({ sentinel: `127.0.0.1:${port}` }, {}, { home: ctx.home, indexUrl: ctx.indexUrl, port: -1, workerId: `bench-${process.pid}` });
  const worker = new Worker(cfg, silentLogger, process.env);
  const client = new SentinelClient(`127.0.0.1:${port}`);
  try {
    await worker.start();
    await publish(client, 'bench_small', SMALL, ctx.lockfile);
    await publish(client, 'bench_large', LARGE, ctx.lockfile);

    // Warm-up job: the worker has the env on disk already; this checks it and fills caches.
    const warmInput = path.join(inputs, 'warm.csv');
    fs.writeFileSync(warmInput, 'id,name,value\n1,a,0.5\n');
    const warm = (await submit(client, 'bench_small', warmInput)).job!;
    const [warmDone] = await waitAll(client, 'bench_small', 1, 120_000);
    if (warmDone.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`warm-up job ${warm.id} failed: ${warmDone.error?.message}`);

    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = path.join(inputs, `part-${String(i).padStart(4, '0')}.csv`);
      const rows = Array.from({ length: 20 }, (_, r) => `${i * 20 + r},name-${r},${(r * 0.25).toFixed(2)}`);
      fs.writeFileSync(f, `id,name,value\n${rows.join('\n')}\n`);
      files.push(f);
    }
    const t0 = Date.now();
    for (const f of files) await submit(client, 'bench_small', f);
    const submittedIn = Date.now() - t0;
    const all = await waitAll(client, 'bench_small', n + 1, 300_000);
    const jobs = all.filter((j) => j.inputPath !== warmInput);
    const wall = Math.max(...jobs.map((j) => j.finishedAt!.getTime())) - t0;
    const failed = jobs.filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
    const latency = jobs.map((j) => j.finishedAt!.getTime() - j.createdAt!.getTime());
    const run = jobs.map((j) => j.finishedAt!.getTime() - (j.startedAt ?? j.createdAt)!.getTime());
    const rate = n / (wall / 1000);
    ctx.say(
      `  pipeline: ${n} jobs in ${secs(wall)} (${rate.toFixed(1)} jobs/s, ${cfg.slots} slots, submitted in ${submittedIn} ms), ` +
        `latency p50 ${ms(median(latency))} p95 ${ms(p95(latency))}, run p50 ${ms(median(run))}, ${failed.length} failed`,
    );
    figures.push({ part: 'pipeline', what: `${n} small jobs, ${cfg.slots} slots`, value: `${rate.toFixed(1)} jobs/s`, note: `${secs(wall)} wall; ${failed.length} failed` });
    figures.push({
      part: 'pipeline',
      what: 'latency created→finished p50 / p95',
      value: `${ms(median(latency))} / ${ms(p95(latency))}`,
      note: `all ${n} queued at once; started→finished p50 ${ms(median(run))} / p95 ${ms(p95(run))}`,
    });

    const largeInput = path.join(inputs, 'large.txt');
    fs.writeFileSync(largeInput, 'unused\n');
    const large = (await submit(client, 'bench_large', largeInput)).job!;
    const [done] = await waitAll(client, 'bench_large', 1, 300_000);
    if (done.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`large job failed: ${done.error?.code} ${done.error?.message}`);
    const arrowBytes = done.metrics?.arrowBytes ?? 0;
    const runMs = done.finishedAt!.getTime() - done.startedAt!.getTime();
    const [fetched, fetchMs] = await timed(() => client.fetchOutput(large.id, 'default'));
    if (fetched.info?.rows !== LARGE_ROWS) throw new Error(`large output has ${fetched.info?.rows} rows, expected ${LARGE_ROWS}`);
    const parquetMb = (fetched.info.sizeBytes ?? 0) / MB;
    ctx.say(
      `  large output: ${LARGE_ROWS} rows × 3, ${(arrowBytes / MB).toFixed(1)} MB Arrow, job ${secs(runMs)} ` +
        `(${(arrowBytes / MB / (runMs / 1000)).toFixed(1)} MB/s), parquet ${parquetMb.toFixed(1)} MB, ` +
        `fetch ${(fetched.ipc.length / MB).toFixed(1)} MB in ${secs(fetchMs)} (${(fetched.ipc.length / MB / (fetchMs / 1000)).toFixed(1)} MB/s)`,
    );
    figures.push({
      part: 'pipeline',
      what: `large job ${LARGE_ROWS / 1e6}M rows × 3 cols → Parquet`,
      value: `${(arrowBytes / MB / (runMs / 1000)).toFixed(1)} MB/s`,
      note: `${(arrowBytes / MB).toFixed(1)} MB Arrow in ${secs(runMs)} (started→committed); Parquet ${parquetMb.toFixed(1)} MB`,
    });
    figures.push({
      part: 'pipeline',
      what: 'FetchOutput of the large output',
      value: `${(fetched.ipc.length / MB / (fetchMs / 1000)).toFixed(1)} MB/s`,
      note: `${(fetched.ipc.length / MB).toFixed(1)} MB Arrow IPC in ${secs(fetchMs)}`,
    });
  } finally {
    client.close();
    await worker.shutdown(2_000);
    await sentinel.shutdown(2_000);
    fs.rmSync(work, { recursive: true, force: true });
  }
}
