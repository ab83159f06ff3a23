/**
 * The commit path on a real Sentinel, whose outputs go through its Parquet
 * helper: bytes that are not a valid Arrow IPC stream, and data Parquet
 * cannot hold, fail the job as INVALID_OUTPUT (the plugin's fault, never
 * retried) and nothing is committed or left staged.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as arrow from 'apache-arrow';
import { channelOptions } from '../../services/common/grpc-server';
import { ipcMessagesOfBuffer } from '../../services/sentinel/sinks/ipc-messages';
import { VerdictStatus, type ConcludeResponse, type DispatchResponse, type JobDispatch } from '../../services/gen/casparian/v1/dispatch';
import { SentinelClient } from '../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const ONE = new arrow.Table({ s: arrow.vectorFromArray(['a', 'bb', 'ccc'], new arrow.Utf8()) });
/** A valid stream of three utf8 batches. */
const THREE = Buffer.from(arrow.tableToIPC(new arrow.Table([...ONE.batches, ...ONE.batches, ...ONE.batches]), 'stream'));

/** Where each record batch ends, and where its body starts. */
async function batchesOf(bytes: Buffer): Promise<{ bodyAt: number; end: number }[]> {
  const out: { bodyAt: number; end: number }[] = [];
  let at = 0;
  for await (const m of ipcMessagesOfBuffer(bytes)) {
    at += m.bytes.byteLength;
    if (m.kind === 'record_batch') out.push({ bodyAt: at - m.bodyLength, end: at });
  }
  return out;
}

/** THREE with the last offset of its last batch far outside the data: well framed, invalid. */
async function corruptLastBatch(): Promise<Buffer> {
  const bytes = Buffer.from(THREE);
  const last = (await batchesOf(bytes))[2];
  bytes.writeInt32LE(0x7ffffff0, last.bodyAt + 4 * 3); // no null bitmap: the offsets start the body
  return bytes;
}

const GOOD = Buffer.from(arrow.tableToIPC(arrow.tableFromArrays({ id: new Int32Array([1, 2, 3]) }), 'stream'));

describe('integration: the commit path through the Parquet helper', function () {
  this.timeout(300_000);

  describe('a worker that sends bad bytes with a SUCCEEDED verdict', () => {
    let c: Cluster;
    let raw: SentinelClient;
    let dispatch: grpc.ClientDuplexStream<unknown, DispatchResponse>;
    const dispatches: JobDispatch[] = [];
    before(async () => {
      c = await Cluster.start({ workers: [] });
      assert.equal(c.sentinel.store.writers.kind, 'pyarrow', 'the Sentinel commits with its Parquet helper');
      await c.publish('p', 'def parse(path):\n    return None\n');
      raw = new SentinelClient(c.address, grpc.credentials.createInsecure(), channelOptions());
      dispatch = raw.dispatch() as unknown as grpc.ClientDuplexStream<unknown, DispatchResponse>;
      dispatch.on('data', (m: DispatchResponse) => m.msg?.$case === 'dispatch' && dispatches.push(m.msg.dispatch));
      dispatch.on('error', () => {});
      dispatch.write({ msg: { $case: 'hello', hello: { workerId: 'hand', slots: 1, version: 'test', envs: [], mayProvision: true, envMode: 'auto', hostname: 'h', active: [] } } });
    });
    after(async () => {
      dispatch?.cancel();
      raw?.close();
      await c?.stop();
    });

    async function concludeWith(bytes: Buffer): Promise<string> {
      const job = await c.submit('p', path.join(c.inputDir, `in-${dispatches.length}.csv`), { maxAttempts: 3 });
      const d = await waitFor('the dispatch', () => dispatches.find((x) => x.jobId === job.id), 20_000, 20);
      const call = raw.conclude();
      const acks: ConcludeResponse[] = [];
      const ended = new Promise<void>((resolve) => {
        call.on('data', (m: ConcludeResponse) => acks.push(m));
        call.on('error', () => resolve());
        call.on('end', () => resolve());
      });
      call.write({ msg: { $case: 'header', header: { jobId: d.jobId, attempt: d.attempt, leaseToken: d.leaseToken } } });
      await waitFor('the header ack', () => acks.some((m) => m.msg?.$case === 'headerAck'), 10_000, 20);
      call.write({ msg: { $case: 'chunk', chunk: { outputName: 'good', data: GOOD } } });
      for (let at = 0; at < bytes.byteLength; at += 50) call.write({ msg: { $case: 'chunk', chunk: { outputName: 'bad', data: bytes.subarray(at, at + 50) } } });
      call.write({ msg: { $case: 'verdict', verdict: { status: VerdictStatus.VERDICT_STATUS_SUCCEEDED, metrics: { rows: 9, durationMs: 1, envMs: 0, envProvisioned: false, arrowBytes: bytes.byteLength } } } });
      call.end();
      await ended;
      const done = await c.waitJob(job.id, 30_000);
      assert.equal(done.state, JobState.JOB_STATE_FAILED, `state ${JobState[done.state]}`);
      assert.equal(done.attempt, 1, 'not retried: the output is the plugin\'s fault');
      assert.deepEqual(c.attemptDirs(job.id), [], 'nothing committed');
      await waitFor('the staging area to be empty', () => c.stagingDirs().length === 0, 10_000);
      assert.equal(done.error?.code, 'INVALID_OUTPUT');
      return done.error!.message;
    }

    it('well-framed bytes whose string offsets point outside the data (found by pyarrow\'s full validation)', async () => {
      assert.match(await concludeWith(await corruptLastBatch()), /output "bad" is not a valid Arrow IPC stream: record batch 2 is invalid/);
    });

    it('a stream cut at a message boundary, which pyarrow alone would read as a shorter valid stream', async () => {
      const cut = THREE.subarray(0, (await batchesOf(THREE))[1].end); // two whole batches, no EOS
      assert.match(await concludeWith(cut), /output "bad" is not a valid Arrow IPC stream: stream is truncated/);
    });
  });

  describe('a plugin whose output Parquet cannot hold', () => {
    let c: Cluster;
    before(async () => (c = await Cluster.start()));
    after(() => c?.stop());

    it('fails as INVALID_OUTPUT naming the output and the type, and commits nothing', async () => {
      await c.publish('intervals', 'import pyarrow as pa\ndef parse(path):\n    return pa.table({"i": pa.array([(1, 2, 3)], pa.month_day_nano_interval())})\n');
      const job = await c.submit('intervals', c.input('x.txt', 'x\n'), { maxAttempts: 3 });
      const done = await c.waitJob(job.id, 120_000);
      assert.equal(done.state, JobState.JOB_STATE_FAILED);
      assert.equal(done.attempt, 1);
      assert.equal(done.error?.code, 'INVALID_OUTPUT');
      assert.match(done.error!.message, /output "default" cannot be stored as Parquet .*month_day_nano_interval/);
      assert.deepEqual(c.attemptDirs(job.id), []);
    });
  });
});
