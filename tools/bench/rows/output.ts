/**
 * Rows 4 and 5, on one large output. bench/plugins/stream_output.py yields
 * batches shaped like the files workload until N bytes of Arrow are out.
 *  4. Commit throughput: the Arrow IPC bytes the worker sent (job metrics)
 *     over the time from the plugin's first yield to the job's finished_at.
 *     Reference: pyarrow.parquet.ParquetWriter writing the same batches as
 *     snappy Parquet, same run (bench/peers/parquet_write.py).
 * 4b. The same with an output contract declared (OUTPUTS: every column
 *     checked, `ts` cast from timestamp[s] to timestamp[us]), against the
 *     same reference: what enforcing a contract costs on the commit path.
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
const CONTRACT_PLUGIN = 'bench_stream_contract';
/** The workload's columns as a contract; `ts` is declared finer than it is sent, so it is cast. */
const CONTRACT = `
OUTPUTS = {"default": [
    ("id", "int64", False), ("ts", "timestamp[us]", False), ("value", "float64", False), ("score", "float64", False),
    ("qty", "int64", False), ("category", "string", False), ("code", "string", False),
]}
QUARANTINE = {"default": {"max_fraction": 0}}
`;

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

      ctx.say(`  now the same output under a contract`);
      await c.publish(CONTRACT_PLUGIN, 'stream_output.py', CONTRACT);
      const contractInput = c.input('big-contract.json', JSON.stringify(spec));
      const contractJob = await waitJob(c.client, (await submitOne(c.client, CONTRACT_PLUGIN, contractInput)).id, 3_600_000, 250);
      if (contractJob.outputs.length !== 1) throw new Error(`the contract job committed ${contractJob.outputs.map((o) => o.name).join(', ') || 'nothing'}: ${contractJob.error?.message ?? ''}`);
      const contract = { arrowBytes: Number(contractJob.metrics?.arrowBytes ?? 0), commitMs: finishedMs(contractJob) - 1000 * Number(fs.readFileSync(`${contractInput}.first`, 'utf8')) };
      return { arrowBytes, commitMs, parquetBytes: Number(job.outputs[0]?.sizeBytes ?? 0), rows: Number(job.outputs[0]?.rows ?? 0), fetched, contract };
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
        detail: { ...m, fetched: undefined, contract: undefined, ref },
      },
      {
        id: '4b',
        title: 'commit throughput under a contract',
        unit: 'MB/s',
        better: 'higher',
        value: mbps(m.contract.arrowBytes, m.contract.commitMs),
        reference: mbps(ref.arrow_bytes, ref.seconds * 1000),
        refLabel: 'pyarrow ParquetWriter, snappy, same batches (no checks)',
        note: `same output, OUTPUTS declared (7 columns checked, ts cast s → us), lineage added; first yield → finished_at ${secs(m.contract.commitMs)}; row 4 without a contract: ${mbps(m.arrowBytes, m.commitMs).toFixed(0)} MB/s`,
        detail: { contract: m.contract },
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
