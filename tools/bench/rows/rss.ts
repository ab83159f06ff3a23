/**
 * Row 6, peak resident memory of the Sentinel process and of the worker
 * process (not its guest) while a plugin streams a large output
 * (bench/plugins/stream_output.py) and the Sentinel commits it. The peak is
 * VmHWM, reset just before the job (clear_refs), or else the largest VmRSS
 * sampled every 100 ms. No reference: the target is a fixed bound.
 */
import { withCluster } from '../cluster';
import { submitOne, waitJob } from '../jobs';
import { memOf, resetPeak, RssSampler } from '../proc-mem';
import { MB, secs } from '../stats';
import type { Row, RowGroup } from '../types';

const PLUGIN = 'bench_stream';
/** Issue 8's target for either service. */
const TARGET_MB = 300;

export const rssGroup: RowGroup = {
  name: 'rss',
  rows: '6',
  perVariant: false,
  async run(ctx, variant): Promise<Row[]> {
    const spec = { bytes: ctx.scale.rssBytes, rows_per_batch: 65536, distinct: 8 };
    return withCluster(ctx, { name: 'rss', variant }, async (c) => {
      await c.publish(PLUGIN, 'stream_output.py');
      const warm = await submitOne(c.client, PLUGIN, c.input('warm.json', JSON.stringify({ ...spec, bytes: 1e6, distinct: 1 })));
      await waitJob(c.client, warm.id, 300_000);
      const pids = { sentinel: c.sentinel.pid, worker: c.worker.pid };
      const idle = { sentinel: memOf(pids.sentinel)?.rssBytes ?? NaN, worker: memOf(pids.worker)?.rssBytes ?? NaN };
      const reset = resetPeak(pids.sentinel) && resetPeak(pids.worker);
      const sampler = new RssSampler(pids, 100);
      const t0 = Date.now();
      let sampled: Record<string, number>;
      let hwm: Record<string, number>;
      let arrowBytes: number;
      try {
        const submitted = await submitOne(c.client, PLUGIN, c.input('big.json', JSON.stringify(spec)));
        const job = await waitJob(c.client, submitted.id, 3_600_000, 250);
        arrowBytes = Number(job.metrics?.arrowBytes ?? 0);
        hwm = { sentinel: memOf(pids.sentinel)?.hwmBytes ?? NaN, worker: memOf(pids.worker)?.hwmBytes ?? NaN };
      } finally {
        sampled = sampler.stop();
      }
      const tookMs = Date.now() - t0;
      ctx.say(`  ${(arrowBytes / MB).toFixed(0)} MB streamed in ${secs(tookMs)}`);
      const row = (who: 'sentinel' | 'worker', title: string): Row => {
        const peak = reset ? Math.max(hwm[who], sampled[who]) : sampled[who];
        return {
          id: '6',
          title,
          unit: 'MB',
          better: 'lower',
          value: peak / MB,
          refMissing: '—',
          refLabel: '',
          note: `target < ${TARGET_MB} MB; ${(arrowBytes / MB).toFixed(0)} MB Arrow streamed in ${secs(tookMs)}; idle ${(idle[who] / MB).toFixed(0)} MB; ${reset ? 'VmHWM reset before the job' : 'sampled VmRSS max (VmHWM could not be reset)'}`,
          detail: { idleBytes: idle[who], hwmBytes: hwm[who], sampledMaxBytes: sampled[who], arrowBytes, tookMs },
        };
      };
      return [row('sentinel', 'peak RSS, Sentinel'), row('worker', 'peak RSS, worker')];
    });
  },
};
