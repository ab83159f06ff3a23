/**
 * Faults: workers that hold a lease they have lost.
 *
 *  - A frozen worker (SIGSTOP past its lease) must not poison a job: the job
 *    is retried on another worker, the frozen one gets no new dispatch while
 *    it is suspect, and its late verdict after SIGCONT is refused.
 *  - Server keepalive drops a worker that stops answering pings.
 *  - A lease holder that passed the Conclude header, lost its lease mid-stream
 *    and then sends SUCCEEDED commits nothing; the other attempt's output stands.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { channelOptions } from '../../services/common/grpc-server';
import { VerdictStatus, type ConcludeRequest, type ConcludeResponse, type DispatchResponse, type JobDispatch } from '../../services/gen/casparian/v1/dispatch';
import { SentinelClient } from '../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

/** JSON log lines of a process whose `msg` is `msg`. */
function logLines(file: string, msg: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

describe('faults: stale lease holders', function () {
  this.timeout(600_000);
  const { track, it } = useClusters();

  it('a frozen worker does not poison a job: it runs on the idle worker, and the thawed late verdict is refused', async () => {
    // Keepalive long enough that the frozen worker's streams stay open: its late verdict really reaches the Sentinel.
    const c = track(await ProcCluster.start({ workers: ['wa'], slots: 1, leaseMs: 4_000, heartbeatMs: 500, sentinelEnv: { CASPARIAN_KEEPALIVE_MS: '600000' } }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    const file = writeCsv(c.inputDir, 'six-seconds.csv', 5, 7, ['# sleep=6']);
    const submitted = await c.submit('values', file, { maxAttempts: 3 });
    await waitFor('the plugin to start on wa', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    assert.equal((await c.getJob(submitted.id)).workerId, 'wa');
    const wa = c.worker('wa');
    wa.signal('SIGSTOP');
    try {
      await c.startWorker('wb', { slots: 1 });
      const job = await c.waitJob(submitted.id, 90_000);
      assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
      assert.equal(job.workerId, 'wb', 'the retry ran on the idle worker, not on the frozen one');
      assert.equal(job.attempt, 2, 'one lost attempt, then one that committed');
      assert.deepEqual(c.attemptDirs(job.id), ['attempt-2']);
    } finally {
      wa.signal('SIGCONT');
    }
    const refused = await waitFor('the thawed worker to be told its verdict was refused', () => logLines(wa.logFile, 'verdict not accepted')[0], 60_000);
    assert.match(String(refused.error), /FAILED_PRECONDITION|lease/);
    const after = await c.getJob(submitted.id);
    assert.equal(after.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(after.attempt, 2);
    assert.equal(after.workerId, 'wb');
    assert.deepEqual(c.attemptDirs(submitted.id), ['attempt-2'], 'nothing of the late attempt was committed');
    assert.equal(await checkValues(c, submitted.id, 5, 7), '');
    await waitFor('the staging area to be empty', () => c.stagingDirs().length === 0, 10_000);
  });

  it('server keepalive drops a worker that stops answering pings; it comes back when thawed', async () => {
    const c = track(await ProcCluster.start({ workers: ['wf'], slots: 1, sentinelEnv: { CASPARIAN_KEEPALIVE_MS: '1000', CASPARIAN_KEEPALIVE_TIMEOUT_MS: '1000' } }));
    const listed = async () => (await c.client.listWorkers({})).workers.some((w) => w.workerId === 'wf');
    assert.equal(await listed(), true);
    const wf = c.worker('wf');
    wf.signal('SIGSTOP');
    try {
      await waitFor('the frozen worker to be dropped', async () => !(await listed()), 30_000, 200);
    } finally {
      wf.signal('SIGCONT');
    }
    await waitFor('the thawed worker to reconnect', listed, 30_000, 200);
  });

  it('a lease holder that lost its lease mid-stream and then sends SUCCEEDED commits nothing', async () => {
    const c = track(await ProcCluster.start({ leaseMs: 2_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await c.startWorker('warm');
    await warmUp(c);
    c.worker('warm').signal('SIGTERM');
    await c.worker('warm').waitExit(30_000);

    // A worker of our own, speaking the protocol by hand: Hello, take the dispatch, pass the header, stream a chunk, then go quiet.
    const raw = new SentinelClient(c.address, grpc.credentials.createInsecure(), channelOptions());
    const dispatch = raw.dispatch();
    const dispatched = new Promise<JobDispatch>((resolve) =>
      dispatch.on('data', (m: DispatchResponse) => m.msg?.$case === 'dispatch' && resolve(m.msg.dispatch)),
    );
    dispatch.on('error', () => {});
    dispatch.write({ msg: { $case: 'hello', hello: { workerId: 'stale', slots: 1, version: 'test', envs: [], mayProvision: true, envMode: 'auto', hostname: 'h', active: [] } } });
    let conclude: grpc.ClientDuplexStream<ConcludeRequest, ConcludeResponse> | undefined;
    try {
      const file = writeCsv(c.inputDir, 'contested.csv', 4, 3);
      const submitted = await c.submit('values', file, { maxAttempts: 3 });
      const d = await dispatched;
      assert.equal(d.jobId, submitted.id);
      conclude = raw.conclude();
      const responses: ConcludeResponse[] = [];
      const ended = new Promise<grpc.StatusObject>((resolve) => {
        conclude!.on('data', (m: ConcludeResponse) => responses.push(m));
        conclude!.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details, metadata: e.metadata }));
        conclude!.on('status', (s: grpc.StatusObject) => resolve(s));
      });
      conclude.write({ msg: { $case: 'header', header: { jobId: d.jobId, attempt: d.attempt, leaseToken: d.leaseToken } } });
      await waitFor('the header ack', () => responses.some((m) => m.msg?.$case === 'headerAck'), 10_000, 20);
      const forged = tableToIPC(tableFromArrays({ id: new BigInt64Array([999n]), value: new Float64Array([999]), doubled: new Float64Array([999]) }), 'stream');
      conclude.write({ msg: { $case: 'chunk', chunk: { outputName: 'default', data: Buffer.from(forged) } } });

      // No heartbeats: the lease runs out, the job is requeued, and a real worker completes it.
      await waitFor('the lease to be lost', async () => (await c.getJob(submitted.id)).attempt >= 1 && (await c.getJob(submitted.id)).state === JobState.JOB_STATE_QUEUED, 30_000, 100);
      await c.startWorker('real');
      const job = await c.waitJob(submitted.id, 90_000);
      assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
      assert.equal(job.workerId, 'real');

      conclude.write({ msg: { $case: 'verdict', verdict: { status: VerdictStatus.VERDICT_STATUS_SUCCEEDED, metrics: { rows: 1, durationMs: 1, envMs: 0, envProvisioned: false, arrowBytes: forged.length } } } });
      const status = await ended;
      assert.equal(status.code, grpc.status.FAILED_PRECONDITION, status.details);
      assert.match(status.details, /lost its lease/);

      const after = await c.getJob(submitted.id);
      assert.equal(after.state, JobState.JOB_STATE_SUCCEEDED);
      assert.equal(after.workerId, 'real');
      assert.deepEqual(c.attemptDirs(submitted.id), [`attempt-${after.attempt}`], 'only the real attempt is on disk');
      assert.equal(await checkValues(c, submitted.id, 4, 3), '', 'the forged row is nowhere in the output');
      await waitFor('the staging area to be empty', () => c.stagingDirs().length === 0, 10_000);
    } finally {
      conclude?.cancel();
      dispatch.cancel();
      raw.close();
    }
  });
});
