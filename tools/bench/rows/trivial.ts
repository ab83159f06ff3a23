/**
 * Row 1, trivial jobs/s: N jobs that each return a one-row table, on one
 * worker with 2 slots and a warm env, from the first submit to the last
 * job's finished_at. Reference: Ray tasks/s of a task returning the same
 * table (ray.init(num_cpus=2)), same run.
 */
import { withCluster } from '../cluster';
import { finishedMs, SUBMIT_METHOD, submitJobs, waitBatches } from '../jobs';
import { rayPeer, refOf } from '../peers';
import { secs } from '../stats';
import type { BenchContext, Row, RowGroup, Variant } from '../types';

const PLUGIN = 'bench_trivial';

async function measure(ctx: BenchContext, variant: Variant, n: number): Promise<{ rate: number; wallMs: number; submitMs: number }> {
  return withCluster(ctx, { name: `trivial-${variant.name}`, variant }, async (c) => {
    await c.publish(PLUGIN, 'trivial.py');
    await waitBatches(c.client, (await submitJobs(c.client, PLUGIN, [0, 1, 2, 3].map((i) => c.input(`warm-${i}.txt`, 'x\n')))).batchIds);
    const inputs = Array.from({ length: n }, (_, i) => c.input(`t-${i}.txt`, 'x\n'));
    const t0 = Date.now();
    const { batchIds } = await submitJobs(c.client, PLUGIN, inputs);
    const submitMs = Date.now() - t0;
    const done = await waitBatches(c.client, batchIds);
    const wallMs = Math.max(...done.map(finishedMs)) - t0;
    return { rate: n / (wallMs / 1000), wallMs, submitMs };
  });
}

export const trivialGroup: RowGroup = {
  name: 'trivial',
  rows: '1',
  perVariant: true,
  async run(ctx, variant): Promise<Row[]> {
    const n = ctx.scale.trivialJobs;
    const m = await measure(ctx, variant, n);
    ctx.say(`  ${n} jobs in ${secs(m.wallMs)} (${m.rate.toFixed(1)} jobs/s); now Ray`);
    const ray = await rayPeer<{ tasks_per_s: number; seconds: number }>(ctx, ['trivial', String(n)]);
    return [
      {
        id: '1',
        title: 'trivial jobs/s',
        variant: variant.name,
        unit: 'jobs/s',
        better: 'higher',
        value: m.rate,
        ...refOf(ray, (r) => r.tasks_per_s),
        refLabel: 'Ray tasks/s, 2 CPUs',
        note: `n=${n} one-row jobs, 1 worker × 2 slots, warm env; ${SUBMIT_METHOD} (${secs(m.submitMs)}), first submit → last finished_at ${secs(m.wallMs)}`,
        detail: { ...m, ray: ray.ok ? ray.value : undefined },
      },
    ];
  },
};
