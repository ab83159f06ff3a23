/**
 * The two server streams on real parts: WatchJob (snapshot, live progress and
 * log events, final state) and FetchOutput of a large output (tens of MB of
 * Arrow, every message ≤ 1 MiB, values intact), plus two named outputs that a
 * generator interleaves.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC, type Table } from 'apache-arrow';
import { JobEventKind, type FetchOutputResponse, type WatchJobResponse } from '../../services/gen/casparian/v1/sentinel';
import { JobState, type OutputInfo } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';
import { SHARED_LOCKFILE } from '../helpers/python-env';
import { LINEAGE_COLUMNS } from '../helpers/data-fixtures';

/** The shared test lockfile, so the worker's pyarrow env is built once per run. */
const E2E_LOCKFILE = SHARED_LOCKFILE;
const MiB = 1024 * 1024;

const PROGRESS_PLUGIN = `
"""Five batches with a log line and a progress report after each, slowly."""
import time

import pyarrow as pa

import casparian

BATCHES = 5
ROWS = 1000


def parse(path):
    for b in range(BATCHES):
        ids = range(b * ROWS, (b + 1) * ROWS)
        yield pa.record_batch({"id": pa.array(ids, pa.int64()), "batch": pa.array([b] * ROWS, pa.int32())})
        casparian.log(f"batch {b} written", level="info")
        casparian.progress(rows=(b + 1) * ROWS, fraction=(b + 1) / BATCHES, message=f"batch {b + 1}/{BATCHES}")
        time.sleep(0.25)
`;

/** id = 0..N-1 (int64), half = id / 2 (float64), batch = batch index (int32). */
const BIG_ROWS = 3_000_000;
const BIG_BATCH = 100_000;
const BIG_PLUGIN = `
"""A large deterministic output, yielded in batches; logs its own checksums."""
import pyarrow as pa
import pyarrow.compute as pc

import casparian

N = ${BIG_ROWS}
BATCH = ${BIG_BATCH}


def parse(path):
    id_sum = 0
    half_sum = 0.0
    batch_sum = 0
    for b, start in enumerate(range(0, N, BATCH)):
        ids = pa.array(range(start, min(N, start + BATCH)), pa.int64())
        half = pc.multiply(ids, pa.scalar(0.5, pa.float64()))
        batch = pa.array([b] * len(ids), pa.int32())
        id_sum += pc.sum(ids).as_py()
        half_sum += pc.sum(half).as_py()
        batch_sum += b * len(ids)
        yield pa.record_batch([ids, half, batch], names=["id", "half", "batch"])
        casparian.progress(rows=start + len(ids))
    casparian.log(f"checksum rows={N} id_sum={id_sum} half_sum={half_sum!r} batch_sum={batch_sum}")
`;

const INTERLEAVED_PLUGIN = `
"""Two named outputs with different schemas, interleaved batch by batch."""
import pyarrow as pa

from casparian import Output

BATCHES = 4


def parse(path):
    for i in range(BATCHES):
        yield Output("numbers", pa.record_batch({"n": pa.array([i * 10 + k for k in range(10)], pa.int64())}))
        yield Output("words", pa.record_batch({"w": pa.array([f"w{i}-{k}" for k in range(3)], pa.string()), "len": pa.array([i] * 3, pa.int16())}))
`;

/** FetchOutput through the raw client, keeping every message's size. */
async function fetchRaw(c: Cluster, jobId: string, outputName = ''): Promise<{ info: OutputInfo | undefined; ipc: Buffer; sizes: number[] }> {
  const call = c.client.raw.fetchOutput({ jobId, outputName });
  const parts: Buffer[] = [];
  const sizes: number[] = [];
  let info: OutputInfo | undefined;
  for await (const m of call as AsyncIterable<FetchOutputResponse>) {
    if (m.output) {
      assert.equal(info, undefined, 'output info is sent once, on the first message');
      info = m.output;
    }
    sizes.push(m.data.byteLength);
    parts.push(Buffer.from(m.data));
  }
  return { info, ipc: Buffer.concat(parts), sizes };
}

/** Sum a numeric column over all record batches without materialising rows. */
function columnSum(t: Table, name: string): number {
  const col = t.getChild(name);
  assert.ok(col, `column ${name}`);
  let sum = 0;
  for (const d of col.data) {
    assert.equal(d.nullCount, 0, `${name} has no nulls`);
    const values = d.values as ArrayLike<number | bigint>;
    for (let i = 0; i < d.length; i++) sum += Number(values[d.offset + i]);
  }
  return sum;
}

describe('e2e: WatchJob and FetchOutput streams', function () {
  this.timeout(600_000);
  let cluster: Cluster;
  let input: string;

  before(async () => {
    cluster = await Cluster.start({ workers: [{ slots: 2 }] });
    input = cluster.input('input.txt', 'the plugins here generate their data\n');
  });
  after(() => cluster?.stop());

  it('WatchJob delivers a snapshot, live progress and logs in order, and ends with SUCCEEDED', async () => {
    await cluster.publish('progress5', PROGRESS_PLUGIN, { lockfile: E2E_LOCKFILE });
    const job = await cluster.submit('progress5', input);
    const events: WatchJobResponse[] = [];
    const arrivals: number[] = [];
    for await (const ev of cluster.client.watchJob(job.id)) {
      events.push(ev);
      arrivals.push(Date.now());
    }

    // The first message is a snapshot of the job as it stands.
    assert.equal(events[0].kind, JobEventKind.JOB_EVENT_KIND_STATE);
    assert.equal(events[0].job?.id, job.id);
    assert.notEqual(events[0].job?.state, JobState.JOB_STATE_SUCCEEDED, 'the watch started before the job finished');

    // The stream ends right after the one final state event.
    const last = events[events.length - 1];
    assert.equal(last.kind, JobEventKind.JOB_EVENT_KIND_STATE);
    assert.equal(last.job?.state, JobState.JOB_STATE_SUCCEEDED, `${last.job?.error?.message}\n${last.job?.error?.traceback}`);
    assert.equal(events.filter((e) => e.job?.state === JobState.JOB_STATE_SUCCEEDED && e.kind === JobEventKind.JOB_EVENT_KIND_STATE).length, 1);
    assert.ok(events.some((e) => e.kind === JobEventKind.JOB_EVENT_KIND_STATE && e.job?.state === JobState.JOB_STATE_RUNNING), 'a RUNNING state event');

    // Plugin events, in the order the plugin emitted them: log b, then progress b.
    const pluginEvents = events
      .filter((e) => e.kind === JobEventKind.JOB_EVENT_KIND_PROGRESS || (e.kind === JobEventKind.JOB_EVENT_KIND_LOG && e.log?.source === 'plugin'))
      .map((e) => (e.kind === JobEventKind.JOB_EVENT_KIND_PROGRESS ? `progress ${e.progress!.rows} ${e.progress!.fraction} ${e.progress!.message}` : `log ${e.log!.level} ${e.log!.message}`));
    const expected = [];
    for (let b = 0; b < 5; b++) expected.push(`log info batch ${b} written`, `progress ${(b + 1) * 1000} ${(b + 1) / 5} batch ${b + 1}/5`);
    assert.deepEqual(pluginEvents, expected);

    // Progress rows increase, and events arrive while the job runs (not all at the end).
    const progressIdx = events.map((e, i) => (e.kind === JobEventKind.JOB_EVENT_KIND_PROGRESS ? i : -1)).filter((i) => i >= 0);
    const rows = progressIdx.map((i) => Number(events[i].progress!.rows));
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i] > rows[i - 1], `rows increase: ${rows.join(',')}`);
    const spread = arrivals[progressIdx[progressIdx.length - 1]] - arrivals[progressIdx[0]];
    assert.ok(spread >= 600, `progress events are streamed live (first to last: ${spread} ms; the plugin sleeps 250 ms between them)`);
    for (const i of progressIdx) assert.equal(events[i].job?.state, JobState.JOB_STATE_RUNNING, 'progress events carry the running job');

    // And the output is all there.
    const { info, ipc } = await fetchRaw(cluster, job.id);
    assert.equal(Number(info?.rows), 5000);
    const t = tableFromIPC(ipc);
    assert.equal(columnSum(t, 'id'), (4999 * 5000) / 2);
    assert.equal(columnSum(t, 'batch'), 1000 * (0 + 1 + 2 + 3 + 4));
  });

  it('WatchJob on a finished job sends the final snapshot and ends; on an unknown job it is NOT_FOUND', async () => {
    const [done] = (await cluster.client.listJobs({ state: JobState.JOB_STATE_SUCCEEDED, pluginName: 'progress5', pageSize: 1, pageToken: '' })).jobs;
    assert.ok(done, 'needs the job of the previous test');
    const events: WatchJobResponse[] = [];
    for await (const ev of cluster.client.watchJob(done.id)) events.push(ev);
    assert.deepEqual(
      events.map((e) => [e.kind, e.job?.state]),
      [[JobEventKind.JOB_EVENT_KIND_STATE, JobState.JOB_STATE_SUCCEEDED]],
    );
    await assert.rejects(
      (async () => {
        for await (const _ of cluster.client.watchJob('no-such-job')) void _;
      })(),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND && /does not exist/.test(e.details),
    );
  });

  it(`a ${BIG_ROWS.toLocaleString('en')}-row output streams back intact in messages of at most 1 MiB`, async () => {
    await cluster.publish('big', BIG_PLUGIN, { lockfile: E2E_LOCKFILE });
    const started = Date.now();
    const job = await cluster.waitJob((await cluster.submit('big', input)).id, 500_000);
    const runMs = Date.now() - started;
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, `${job.error?.code}: ${job.error?.message}\n${job.error?.traceback}`);
    assert.equal(Number(job.metrics?.rows), BIG_ROWS);
    assert.ok(Number(job.metrics?.arrowBytes) > 20 * MiB, `the plugin streamed ${job.metrics?.arrowBytes} Arrow bytes (want > 20 MiB)`);

    const fetchStarted = Date.now();
    const { info, ipc, sizes } = await fetchRaw(cluster, job.id);
    const fetchMs = Date.now() - fetchStarted;
    assert.equal(info?.name, 'default');
    assert.equal(Number(info?.rows), BIG_ROWS);
    assert.deepEqual(
      info?.columns.map((c) => c.name),
      ['id', 'half', 'batch', ...LINEAGE_COLUMNS],
    );
    assert.ok(ipc.byteLength > 20 * MiB, `fetched ${ipc.byteLength} bytes of Arrow`);
    assert.ok(Math.max(...sizes) <= MiB, `largest FetchOutput message: ${Math.max(...sizes)} bytes`);
    assert.ok(sizes.length >= Math.ceil(ipc.byteLength / MiB), `${sizes.length} messages for ${ipc.byteLength} bytes`);

    const t = tableFromIPC(ipc);
    assert.equal(t.numRows, BIG_ROWS);
    const sums = { id: columnSum(t, 'id'), half: columnSum(t, 'half'), batch: columnSum(t, 'batch') };
    // Expected from the definition (all sums are exact in float64: < 2^53, multiples of 0.5).
    const nBatches = BIG_ROWS / BIG_BATCH;
    const expected = { id: ((BIG_ROWS - 1) * BIG_ROWS) / 2, half: ((BIG_ROWS - 1) * BIG_ROWS) / 4, batch: (BIG_BATCH * (nBatches - 1) * nBatches) / 2 };
    assert.deepEqual(sums, expected);

    // And they match what the plugin itself computed while producing the data.
    const logs = (await cluster.client.getJob({ jobId: job.id, includeLogs: true })).logs;
    const line = logs.map((l) => l.message).find((m) => m.startsWith('checksum '));
    assert.ok(line, `plugin logs: ${logs.map((l) => l.message).join(' | ')}`);
    const m = /^checksum rows=(\d+) id_sum=(\d+) half_sum=([\d.]+) batch_sum=(\d+)$/.exec(line);
    assert.ok(m, line);
    assert.deepEqual({ rows: Number(m[1]), id: Number(m[2]), half: Number(m[3]), batch: Number(m[4]) }, { rows: BIG_ROWS, ...sums });

    // The last row, spot-checked by value.
    const lastRow = t.get(BIG_ROWS - 1)!;
    assert.deepEqual([Number(lastRow.id), lastRow.half, lastRow.batch], [BIG_ROWS - 1, (BIG_ROWS - 1) / 2, nBatches - 1]);
    console.log(`      big output: run ${runMs} ms, fetch ${fetchMs} ms, ${ipc.byteLength} Arrow bytes in ${sizes.length} messages`);
  });

  it('two named outputs interleaved by a generator both come back complete', async () => {
    await cluster.publish('interleaved', INTERLEAVED_PLUGIN, { lockfile: E2E_LOCKFILE });
    const job = await cluster.waitJob((await cluster.submit('interleaved', input)).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, `${job.error?.code}: ${job.error?.message}\n${job.error?.traceback}`);
    assert.deepEqual(
      job.outputs.map((o) => [o.name, Number(o.rows)]).sort(),
      [
        ['numbers', 40],
        ['words', 12],
      ],
    );

    const numbers = await fetchRaw(cluster, job.id, 'numbers');
    assert.equal(numbers.info?.name, 'numbers');
    assert.deepEqual(
      tableFromIPC(numbers.ipc).toArray().map((r) => Number(r.n)),
      Array.from({ length: 40 }, (_, i) => i),
    );

    const words = await fetchRaw(cluster, job.id, 'words');
    assert.equal(words.info?.name, 'words');
    const wt = tableFromIPC(words.ipc);
    assert.deepEqual(
      wt.schema.fields.map((f) => f.name),
      ['w', 'len', ...LINEAGE_COLUMNS],
    );
    const expected: [string, number][] = [];
    for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) expected.push([`w${i}-${k}`, i]);
    assert.deepEqual(
      wt.toArray().map((r) => [r.w, r.len]),
      expected,
    );

    // Without a name there is no "default" output to pick: the error lists what exists.
    await assert.rejects(fetchRaw(cluster, job.id), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND && /its outputs: (numbers, words|words, numbers)/.test(e.details));
  });
});
