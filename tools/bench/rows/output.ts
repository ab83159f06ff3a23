/**
 * Rows 4 and 5, on one large output. bench/plugins/stream_output.py yields
 * batches shaped like the files workload until N bytes of Arrow are out.
 *  4. Commit throughput: the Arrow IPC bytes the worker sent (job metrics)
 *     over the time from the plugin's first yield to the job's finished_at.
 *     Reference: pyarrow.parquet.ParquetWriter writing the same batches as
 *     snappy Parquet, same run (bench/peers/parquet_write.py).
 *  5. FetchOutput MB/s of that output, bytes counted as they arrive.
 *     Reference: a raw grpc-js server stream of the same bytes in the same
 *     chunk size between two Node processes on loopback, same run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withCluster } from '../cluster';
import { finishedMs, submitOne, waitJob } from '../jobs';
import { pyPeer } from '../peers';
import { readFetchOutput, readRawStream, type StreamRead } from '../raw-stream';
import { MB, secs } from '../stats';
import type { Row, RowGroup } from '../types';

const PLUGIN = 'bench_stream';

export const outputGroup: RowGroup = {
  name: 'output',
  rows: '4, 5',
  perVariant: false,
  async run(ctx, variant): Promise<Row[]> {
    const spec = { bytes: ctx.scale.commitBytes, rows_per_batch: 65536, distinct: 8 };
    const m = await withCluster(ctx, { name: 'output', variant }, async (c) => {
      await c.publish(PLUGIN, 'stream_output.py');
      const warm = await submitOne(c.client, PLUGIN, c.input('warm.json', JSON.stringify({ ...spec, bytes: 1e6, distinct: 1 })));
      await waitJob(c.client, warm.id, 300_000);
      const input = c.input('big.json', JSON.stringify(spec));
      const submitted = await submitOne(c.client, PLUGIN, input);
      const job = await waitJob(c.client, submitted.id, 3_600_000, 250);
      const firstMs = 1000 * Number(fs.readFileSync(`${input}.first`, 'utf8'));
      const commitMs = finishedMs(job) - firstMs;
      const arrowBytes = Number(job.metrics?.arrowBytes ?? 0);
      ctx.say(`  ${(arrowBytes / MB).toFixed(0)} MB of Arrow committed in ${secs(commitMs)}; now FetchOutput`);
      const fetched = await readFetchOutput(c.client, job.id);
      return { arrowBytes, commitMs, parquetBytes: Number(job.outputs[0]?.sizeBytes ?? 0), rows: Number(job.outputs[0]?.rows ?? 0), fetched };
    });
    const specFile = path.join(ctx.work, 'output-spec.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    ctx.say(`  now pyarrow's ParquetWriter`);
    const ref = await pyPeer<{ seconds: number; arrow_bytes: number; parquet_bytes: number }>(ctx, 'parquet_write.py', [specFile, path.join(ctx.work, 'output-ref.parquet')]);
    fs.rmSync(path.join(ctx.work, 'output-ref.parquet'), { force: true });
    ctx.say(`  now the raw grpc-js stream`);
    const raw: StreamRead = await readRawStream(ctx.root, m.fetched.bytes, m.fetched.medianChunk);
    const mbps = (bytes: number, ms: number): number => bytes / MB / (ms / 1000);
    return [
      {
        id: '4',
        title: 'commit throughput (Arrow → Parquet)',
        unit: 'MB/s',
        better: 'higher',
        value: mbps(m.arrowBytes, m.commitMs),
        reference: mbps(ref.arrow_bytes, ref.seconds * 1000),
        refLabel: 'pyarrow ParquetWriter, snappy, same batches',
        note: `${(m.arrowBytes / MB).toFixed(0)} MB Arrow IPC, ${m.rows} rows; first yield → finished_at ${secs(m.commitMs)}; Parquet ${(m.parquetBytes / MB).toFixed(0)} MB (pyarrow's ${(ref.parquet_bytes / MB).toFixed(0)} MB)`,
        detail: { ...m, fetched: undefined, ref },
      },
      {
        id: '5',
        title: 'FetchOutput',
        unit: 'MB/s',
        better: 'higher',
        value: mbps(m.fetched.bytes, m.fetched.ms),
        reference: mbps(raw.bytes, raw.ms),
        refLabel: 'raw grpc-js server stream, 2 Node processes',
        note: `${(m.fetched.bytes / MB).toFixed(0)} MB in ${m.fetched.chunks} chunks (median ${(m.fetched.medianChunk / 1024).toFixed(0)} KiB)`,
        detail: { fetched: m.fetched, raw },
      },
    ];
  },
};
