/**
 * Reconciliation: a worker that reconnects reports the attempts it still runs;
 * attempts leased to it that it does not report go back to the queue at once
 * (not after the lease), and a stale lease can no longer commit.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { DispatchRequest, DispatchResponse, JobDispatch } from '../../services/gen/casparian/v1/dispatch';
import { ErrorClass, JobState } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

function connect(c: Cluster, workerId: string, active: { jobId: string; attempt: number; leaseToken: string }[] = []) {
  const call = c.client.raw.dispatch();
  const dispatches: JobDispatch[] = [];
  call.on('data', (m: DispatchResponse) => {
    if (m.msg?.$case === 'dispatch') dispatches.push(m.msg.dispatch);
  });
  call.on('error', () => {});
  call.write({
    msg: { $case: 'hello', hello: { workerId, slots: 1, version: 'test', envs: [], mayProvision: true, envMode: 'auto', hostname: 'test', active } },
  } as DispatchRequest);
  return { call, dispatches };
}

describe('integration: reconcile a reconnecting worker', function () {
  this.timeout(30_000);
  let c: Cluster;
  before(async () => {
    // A long lease: anything that comes back quickly was reconciled, not reclaimed.
    c = await Cluster.start({ workers: [], sentinel: { leaseMs: 120_000, heartbeatIntervalMs: 1_000 } });
    await c.publish('p', 'def parse(path):\n    return None\n', { lockfile: 'pyarrow==25.0.1\n' });
  });
  after(() => c?.stop());

  it('requeues attempts the worker no longer has and fences the old lease', async () => {
    const job = await c.submit('p', path.join(c.inputDir, 'reconcile.csv'));
    const first = connect(c, 'ghost');
    await waitFor('the first dispatch', () => first.dispatches.length === 1, 5_000);
    const d = first.dispatches[0];
    assert.equal(d.jobId, job.id);
    first.call.cancel(); // the stream breaks; the lease (120 s) is still valid
    await waitFor('the worker to be gone', async () => (await c.client.listWorkers({})).workers.length === 0, 5_000);
    assert.equal((await c.client.getJob({ jobId: job.id, includeLogs: false })).job!.state, JobState.JOB_STATE_DISPATCHED);

    const again = connect(c, 'ghost', []); // reconnects without the attempt
    await waitFor('the dispatch after reconnecting', () => again.dispatches.length === 1, 5_000);
    const redo = again.dispatches[0];
    assert.equal(redo.jobId, job.id);
    assert.equal(redo.attempt, 2, 'requeued and dispatched again as a new attempt');
    assert.notEqual(redo.leaseToken, d.leaseToken);
    const now = (await c.client.getJob({ jobId: job.id, includeLogs: false })).job!;
    assert.equal(now.error?.errorClass, ErrorClass.ERROR_CLASS_WORKER_LOST);
    assert.match(now.error!.message, /reconnected without attempt 1/);

    // The stale attempt cannot open a Conclude stream any more.
    const conclude = c.client.raw.conclude();
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      conclude.on('error', resolve);
      conclude.on('data', () => {});
      conclude.write({ msg: { $case: 'header', header: { jobId: d.jobId, attempt: d.attempt, leaseToken: d.leaseToken } } });
    });
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    again.call.cancel();
  });

  it('keeps attempts the worker reports and extends their lease', async () => {
    const job = await c.submit('p', path.join(c.inputDir, 'reconcile-2.csv'));
    const first = connect(c, 'keeper');
    await waitFor('the first dispatch', () => first.dispatches.length === 1, 5_000);
    const d = first.dispatches[0];
    first.call.cancel();
    await waitFor('keeper to be gone', async () => !(await c.client.listWorkers({})).workers.some((w) => w.workerId === 'keeper'), 5_000);
    const again = connect(c, 'keeper', [{ jobId: d.jobId, attempt: d.attempt, leaseToken: d.leaseToken }]);
    await waitFor('keeper back with one busy slot', async () => (await c.client.listWorkers({})).workers.some((w) => w.workerId === 'keeper' && w.busySlots === 1), 5_000);
    const got = (await c.client.getJob({ jobId: job.id, includeLogs: false })).job!;
    assert.equal(got.state, JobState.JOB_STATE_DISPATCHED);
    assert.equal(got.attempt, 1, 'the reported attempt keeps its lease');
    assert.equal(again.dispatches.length, 0, 'its slot is known to be busy');
    again.call.cancel();
  });
});
