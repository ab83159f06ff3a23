/**
 * Row 2, dispatch latency: from the job's created_at (the Sentinel's clock at
 * enqueue, ms) to the plugin's parse() entry (time.time() written by
 * bench/plugins/stamp.py), one job at a time on an idle worker with a warm
 * env, IDLE_MS between jobs. Reference: Ray's latency from f.remote() to the
 * task's first line, same idle gap, same run (bench/peers/ray_peers.py).
 */
import * as fs from 'node:fs';
import { withCluster } from '../cluster';
import { createdMs, submitOne, waitJob } from '../jobs';
import { rayPeer, refOf } from '../peers';
import { fmt, quantile, sleep } from '../stats';
import type { BenchContext, Row, RowGroup, Variant } from '../types';

const PLUGIN = 'bench_stamp';
/** Idle time between samples (the Ray peer waits the same). */
const IDLE_MS = 50;

async function measure(ctx: BenchContext, variant: Variant, n: number): Promise<number[]> {
  return withCluster(ctx, { name: `latency-${variant.name}`, variant }, async (c) => {
    await c.publish(PLUGIN, 'stamp.py');
    const samples: number[] = [];
    for (let i = -3; i < n; i++) {
      const input = c.input(`s${i}.txt`, 'x\n');
      const job = await submitOne(c.client, PLUGIN, input);
      await waitJob(c.client, job.id, 300_000);
      const started = 1000 * Number(fs.readFileSync(`${input}.start`, 'utf8'));
      if (i >= 0) samples.push(started - createdMs(job)); // the first three warm up
      await sleep(IDLE_MS);
    }
    return samples;
  });
}

export const latencyGroup: RowGroup = {
  name: 'latency',
  rows: '2',
  perVariant: true,
  async run(ctx, variant): Promise<Row[]> {
    const n = ctx.scale.latencySamples;
    const samples = await measure(ctx, variant, n);
    ctx.say(`  p50 ${fmt(quantile(samples, 0.5))} ms, p99 ${fmt(quantile(samples, 0.99))} ms; now Ray`);
    const ray = await rayPeer<{ samples_ms: number[] }>(ctx, ['latency', String(n)]);
    const row = (q: number, label: string): Row => ({
      id: '2',
      title: `dispatch latency ${label}`,
      variant: variant.name,
      unit: 'ms',
      better: 'lower',
      value: quantile(samples, q),
      ...refOf(ray, (r) => quantile(r.samples_ms, q)),
      refLabel: 'Ray f.remote() → task running',
      note: `n=${n} sequential jobs, ${IDLE_MS} ms idle between; created_at → parse() entry`,
    });
    const rows = [row(0.5, 'p50'), row(0.99, 'p99')];
    rows[0].detail = { samplesMs: samples, raySamplesMs: ray.ok ? ray.value.samples_ms : undefined };
    return rows;
  },
};
