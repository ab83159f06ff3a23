/**
 * Row 3, the files workload: N generated CSV files (~1.2 MB each, fixed
 * seed; bench/peers/gen_csv.py), each parsed with pyarrow.csv and filtered
 * by bench/plugins/files.py and committed as Parquet; first submit → last
 * finished_at. References, same run, same function on the same files, each
 * writing snappy Parquet with pyarrow: (a) one plain Python process looping
 * over the files; (b) Ray with 2 CPUs, one task per file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withCluster } from '../cluster';
import { finishedMs, SUBMIT_METHOD, submitJobs, submitOne, waitBatches, waitJob } from '../jobs';
import { pyPeer, rayPeer, refOf } from '../peers';
import { MB, secs } from '../stats';
import type { BenchContext, Row, RowGroup, Variant } from '../types';

const PLUGIN = 'bench_files';

interface Measured {
  wallMs: number;
  rows: number;
  parquetBytes: number;
}

async function measure(ctx: BenchContext, variant: Variant, files: string[], warmInput: string): Promise<Measured> {
  return withCluster(ctx, { name: `files-${variant.name}`, variant }, async (c) => {
    await c.publish(PLUGIN, 'files.py');
    const warm = await submitOne(c.client, PLUGIN, warmInput);
    await waitJob(c.client, warm.id, 300_000);
    const t0 = Date.now();
    const done = await waitBatches(c.client, (await submitJobs(c.client, PLUGIN, files)).batchIds);
    const outputs = done.map((j) => j.outputs[0]);
    return {
      wallMs: Math.max(...done.map(finishedMs)) - t0,
      rows: outputs.reduce((s, o) => s + (o?.rows ?? 0), 0),
      parquetBytes: outputs.reduce((s, o) => s + (o?.sizeBytes ?? 0), 0),
    };
  });
}

export const filesGroup: RowGroup = {
  name: 'files',
  rows: '3a, 3b',
  perVariant: true,
  async run(ctx, variant): Promise<Row[]> {
    const n = ctx.scale.files;
    const base = path.join(ctx.work, `files-${variant.name}`);
    const src = path.join(base, 'in');
    const gen = await pyPeer<{ bytes: number }>(ctx, 'gen_csv.py', [src, String(n), String(ctx.scale.rowsPerFile)]);
    const files = fs.readdirSync(src).sort().map((f) => path.join(src, f));
    const warmDir = path.join(base, 'warm');
    fs.mkdirSync(warmDir, { recursive: true });
    const warmInput = path.join(warmDir, 'warm.csv');
    fs.copyFileSync(files[0], warmInput);
    ctx.say(`  ${n} files, ${(gen.bytes / MB).toFixed(0)} MB of CSV generated`);

    const m = await measure(ctx, variant, files, warmInput);
    ctx.say(`  casparian ${secs(m.wallMs)}; now the plain loop`);
    const loop = await pyPeer<{ seconds: number; rows: number; parquet_bytes: number }>(ctx, 'files_loop.py', [src, path.join(base, 'loop-out')]);
    if (loop.rows !== m.rows) throw new Error(`the plain loop wrote ${loop.rows} rows, the jobs ${m.rows}: not the same work`);
    ctx.say(`  plain loop ${loop.seconds.toFixed(1)} s; now Ray`);
    const ray = await rayPeer<{ seconds: number; rows: number }>(ctx, ['files', src, path.join(base, 'ray-out')]);
    if (ray.ok && ray.value.rows !== m.rows) throw new Error(`Ray wrote ${ray.value.rows} rows, the jobs ${m.rows}: not the same work`);
    const note = `${n} CSV files, ${(gen.bytes / n / MB).toFixed(2)} MB each (${(gen.bytes / MB).toFixed(0)} MB), ${m.rows} rows out, Parquet ${(m.parquetBytes / MB).toFixed(0)} MB (loop's ${(loop.parquet_bytes / MB).toFixed(0)} MB); 1 worker × 2 slots; ${SUBMIT_METHOD}`;
    return [
      { id: '3a', title: 'files workload', variant: variant.name, unit: 's', better: 'lower', value: m.wallMs / 1000, reference: loop.seconds, refLabel: 'one plain Python loop, pyarrow', note, detail: { ...m, loop } },
      {
        id: '3b',
        title: 'files workload',
        variant: variant.name,
        unit: 's',
        better: 'lower',
        value: m.wallMs / 1000,
        ...refOf(ray, (r) => r.seconds),
        refLabel: 'Ray 2 CPUs, a task per file',
        note: `same run as 3a`,
        detail: { ray: ray.ok ? ray.value : undefined },
      },
    ];
  },
};
