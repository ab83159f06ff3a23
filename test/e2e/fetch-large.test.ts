/**
 * `casparian fetch --out` of an output several times larger than the memory
 * the CLI may use: it streams to disk (the old CLI held the whole output,
 * twice, before writing). The CLI's peak RSS is read from the process itself
 * (a preload prints process.resourceUsage().maxRSS at exit); the bound is a
 * fraction of the output's size, not a tight limit.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ipcMessagesOfFile } from '../../services/sentinel/sinks/ipc-messages';
import { parquetRowCount } from '../../services/sentinel/sinks/parquet-convert';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { Cluster } from '../helpers/cluster';

const ROWS_PER_BATCH = 1_000_000;
const BATCHES = 30; // 16 bytes a row: 480 MB of Arrow
const BIG = `
import pyarrow as pa
import pyarrow.compute as pc

def parse(path):
    ids = pa.array(range(${ROWS_PER_BATCH}), pa.int64())
    batch = pa.record_batch([ids, pc.multiply(pc.cast(ids, pa.float64()), 0.5)], names=["id", "value"])
    for _ in range(${BATCHES}):
        yield batch
`;
const MB = 1024 * 1024;
/**
 * The CLI's peak RSS must stay under this, a fraction of the 458 MiB output
 * (collecting it took 1 GB). Not tight: when garbage collection runs depends
 * on the machine's load (122 MB alone, up to ~200 MB under the full suite).
 * Converting to Parquet holds one IPC message, the wasm heap and a row group.
 */
const RSS_BOUND_MB = 300;

describe('e2e: fetch --out of a large output streams with bounded memory', function () {
  this.timeout(600_000);
  let c: Cluster;
  let jobId = '';
  let preload = '';
  before(async () => {
    c = await Cluster.start();
    preload = path.join(c.root, 'peak-rss.js');
    fs.writeFileSync(preload, "process.on('exit', () => process.stderr.write(`PEAK_RSS_KB=${process.resourceUsage().maxRSS}\\n`));\n");
    await c.publish('big', BIG);
    const job = await c.submit('big', c.input('big.txt', 'x\n'));
    const done = await c.waitJob(job.id, 300_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
    jobId = done.id;
  });
  after(() => c?.stop());

  async function fetchTo(file: string): Promise<number> {
    const r = await runCli(['fetch', jobId, '--sentinel', c.address, '--out', file], { timeoutMs: 300_000, env: { NODE_OPTIONS: `--require ${preload}` } });
    assert.equal(r.code, 0, showCli(r));
    assert.match(r.stdout, new RegExp(`wrote default \\(${ROWS_PER_BATCH * BATCHES} rows\\) to`));
    const m = /PEAK_RSS_KB=(\d+)/.exec(r.stderr);
    assert.ok(m, showCli(r));
    assert.deepEqual(fs.readdirSync(path.dirname(file)).filter((f) => f.includes('.part-')), [], 'no partial file is left');
    return Number(m[1]) / 1024;
  }

  it('as Arrow IPC: the whole stream on disk, the CLI far smaller than the output', async () => {
    const file = path.join(c.root, 'big.arrows');
    const peakMb = await fetchTo(file);
    const size = fs.statSync(file).size;
    assert.ok(size > 1.5 * RSS_BOUND_MB * MB, `the output (${(size / MB).toFixed(0)} MB) dwarfs the bound`);
    let rows = 0;
    for await (const m of ipcMessagesOfFile(file)) rows += m.rows; // strict walk: complete, EOS last
    assert.equal(rows, ROWS_PER_BATCH * BATCHES);
    assert.ok(peakMb < RSS_BOUND_MB, `the CLI peaked at ${peakMb.toFixed(0)} MB fetching ${(size / MB).toFixed(0)} MB`);
    process.stderr.write(`      fetched ${(size / MB).toFixed(0)} MB; CLI peak RSS ${peakMb.toFixed(0)} MB\n`);
  });

  it('as Parquet: converted while streaming, the CLI still far smaller than the output', async () => {
    const file = path.join(c.root, 'big.parquet');
    const peakMb = await fetchTo(file);
    assert.equal(await parquetRowCount(file), ROWS_PER_BATCH * BATCHES);
    assert.ok(peakMb < RSS_BOUND_MB, `the CLI peaked at ${peakMb.toFixed(0)} MB`);
    process.stderr.write(`      Parquet ${(fs.statSync(file).size / MB).toFixed(0)} MB; CLI peak RSS ${peakMb.toFixed(0)} MB\n`);
  });
});
