/** Bad input of every kind on the Sentinel's API gets a clear status, never INTERNAL, and never crashes it. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { JobState } from '../../services/gen/casparian/v1/types';
import type { ConcludeRequest, ConcludeResponse, DispatchRequest, DispatchResponse } from '../../services/gen/casparian/v1/dispatch';
import { Cluster } from '../helpers/cluster';

const code = (c: grpc.status, re?: RegExp) => (e: grpc.ServiceError) => {
  assert.equal(grpc.status[e.code], grpc.status[c], e.details);
  if (re) assert.match(e.details, re);
  return true;
};

const manifest = { description: '', envAllow: [], maxAttempts: 0, timeouts: undefined, isolation: '', maxConcurrency: 0 };

describe('integration: Sentinel API statuses', function () {
  this.timeout(30_000);
  let c: Cluster;
  before(async () => {
    c = await Cluster.start({ workers: [] });
    await c.publish('p', 'def parse(path):\n    return None\n', { lockfile: 'pyarrow==25.0.1\n' });
  });
  after(() => c?.stop());

  const submitReq = (o: object) => ({ pluginName: 'p', pluginVersion: '', inputPath: path.join(c.inputDir, 'a.csv'), idempotencyKey: '', maxAttempts: 0, timeouts: undefined, ...o });

  it('SubmitJob validates its fields', async () => {
    await assert.rejects(c.client.submitJob(submitReq({ pluginName: '' })), code(grpc.status.INVALID_ARGUMENT, /plugin_name is required/));
    await assert.rejects(c.client.submitJob(submitReq({ pluginName: '../etc' })), code(grpc.status.INVALID_ARGUMENT, /plugin_name/));
    await assert.rejects(c.client.submitJob(submitReq({ inputPath: 'relative.csv' })), code(grpc.status.INVALID_ARGUMENT, /absolute/));
    await assert.rejects(c.client.submitJob(submitReq({ inputPath: '' })), code(grpc.status.INVALID_ARGUMENT, /input_path is required/));
    await assert.rejects(c.client.submitJob(submitReq({ pluginName: 'nope' })), code(grpc.status.NOT_FOUND, /plugin nope is not published/));
    await assert.rejects(c.client.submitJob(submitReq({ pluginVersion: '9.9' })), code(grpc.status.NOT_FOUND, /version 9.9/));
    await assert.rejects(c.client.submitJob(submitReq({ maxAttempts: 1000 })), code(grpc.status.INVALID_ARGUMENT, /max_attempts/));
  });

  it('SubmitJob refuses inputs outside the input roots', async () => {
    await assert.rejects(c.client.submitJob(submitReq({ inputPath: '/etc/shadow' })), code(grpc.status.PERMISSION_DENIED, /outside the Sentinel's input roots/));
    await assert.rejects(c.client.submitJob(submitReq({ inputPath: `${c.inputDir}/${path.relative(c.inputDir, '/etc/passwd')}` })), code(grpc.status.PERMISSION_DENIED, /\/etc\/passwd/));
    await assert.rejects(c.client.submitJob(submitReq({ inputPath: `${c.inputDir}base/x.csv` })), code(grpc.status.PERMISSION_DENIED), 'a sibling with the same prefix is not inside');
    fs.symlinkSync('/etc', path.join(c.inputDir, 'escape'));
    await assert.rejects(c.client.submitJob(submitReq({ inputPath: path.join(c.inputDir, 'escape', 'passwd') })), code(grpc.status.PERMISSION_DENIED), 'a symlink out of a root is refused');
  });

  it('retry backoff: the job inherits the manifest and overrides per field; bad values are refused', async () => {
    await c.client.publishPlugin({
      name: 'backoff',
      version: '1',
      source: 'x',
      lockfile: 'pyarrow==25.0.1\n',
      manifest: { ...manifest, backoff: { initialMs: 7000, multiplier: 3, maxMs: 0 } },
    });
    const job = (await c.client.submitJob(submitReq({ pluginName: 'backoff', backoff: { initialMs: 0, multiplier: 0, maxMs: 9000 } }))).job!;
    const row = await c.sentinel.db.selectFrom('jobs').select('backoff_json').where('id', '=', job.id).executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(row.backoff_json!), { initialMs: 7000, multiplier: 3, maxMs: 9000 });
    await assert.rejects(
      c.client.submitJob(submitReq({ backoff: { initialMs: 0, multiplier: 0.5, maxMs: 0 } })),
      code(grpc.status.INVALID_ARGUMENT, /backoff.multiplier must be between 1 and 10/),
    );
    // A manifest without a backoff hashes as before: republishing it is a no-op.
    const first = await c.client.publishPlugin({ name: 'nobackoff', version: '1', source: 'a', lockfile: 'x', manifest });
    const again = await c.client.publishPlugin({ name: 'nobackoff', version: '1', source: 'a', lockfile: 'x', manifest: { ...manifest, backoff: { initialMs: 0, multiplier: 0, maxMs: 0 } } });
    assert.equal(first.created, true);
    assert.equal(again.created, false);
  });

  it('SubmitJob with the same idempotency key returns the same job', async () => {
    const a = await c.client.submitJob(submitReq({ idempotencyKey: 'k-1' }));
    const b = await c.client.submitJob(submitReq({ idempotencyKey: 'k-1' }));
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(a.job!.id, b.job!.id);
  });

  it('PublishPlugin refuses bad and conflicting input', async () => {
    await assert.rejects(c.client.publishPlugin({ name: 'q', version: '1', source: '', lockfile: 'x', manifest }), code(grpc.status.INVALID_ARGUMENT, /source is required/));
    await assert.rejects(c.client.publishPlugin({ name: 'q', version: '1', source: 'x', lockfile: '', manifest }), code(grpc.status.INVALID_ARGUMENT, /lockfile is required/));
    await assert.rejects(
      c.client.publishPlugin({ name: 'q', version: '1', source: 'x'.repeat(5 * 1024 * 1024), lockfile: 'x', manifest }),
      code(grpc.status.RESOURCE_EXHAUSTED, /source is \d+ bytes/),
    );
    const first = await c.client.publishPlugin({ name: 'q', version: '1', source: 'a', lockfile: 'x', manifest });
    const again = await c.client.publishPlugin({ name: 'q', version: '1', source: 'a', lockfile: 'x', manifest });
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    await assert.rejects(c.client.publishPlugin({ name: 'q', version: '1', source: 'b', lockfile: 'x', manifest }), code(grpc.status.ALREADY_EXISTS));
  });

  it('GetJob, CancelJob and FetchOutput name missing jobs and bad transitions', async () => {
    await assert.rejects(c.client.getJob({ jobId: 'no-such-job', includeLogs: false }), code(grpc.status.NOT_FOUND, /does not exist/));
    await assert.rejects(c.client.getJob({ jobId: '', includeLogs: false }), code(grpc.status.INVALID_ARGUMENT));
    const job = await c.submit('p', path.join(c.inputDir, 'b.csv'));
    await assert.rejects(c.client.fetchOutput(job.id), code(grpc.status.FAILED_PRECONDITION, /queued/));
    const cancelled = await c.client.cancelJob({ jobId: job.id, reason: 'test' });
    assert.equal(cancelled.job!.state, JobState.JOB_STATE_CANCELLED);
    await assert.rejects(c.client.cancelJob({ jobId: job.id, reason: '' }), code(grpc.status.FAILED_PRECONDITION, /already cancelled/));
    await assert.rejects(c.client.listJobs({ state: 0, pluginName: '', pageSize: 0, pageToken: 'garbage' }), code(grpc.status.INVALID_ARGUMENT, /page_token/));
  });

  it('ListJobs pages newest first', async () => {
    for (let i = 0; i < 5; i++) await c.submit('p', path.join(c.inputDir, `page-${i}.csv`));
    const p1 = await c.client.listJobs({ state: JobState.JOB_STATE_QUEUED, pluginName: 'p', pageSize: 3, pageToken: '' });
    assert.equal(p1.jobs.length, 3);
    assert.ok(p1.nextPageToken);
    const p2 = await c.client.listJobs({ state: JobState.JOB_STATE_QUEUED, pluginName: 'p', pageSize: 3, pageToken: p1.nextPageToken });
    const ids = new Set([...p1.jobs, ...p2.jobs].map((j) => j.id));
    assert.equal(ids.size, p1.jobs.length + p2.jobs.length, 'pages do not overlap');
    assert.ok(p1.jobs[0].createdAt! >= p1.jobs[2].createdAt!);
  });

  it('Conclude with a wrong lease is refused and commits nothing', async () => {
    const job = await c.submit('p', path.join(c.inputDir, 'c.csv'));
    const call = c.client.raw.conclude();
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('error', resolve);
      call.on('data', () => {});
      call.write({ msg: { $case: 'header', header: { jobId: job.id, attempt: 1, leaseToken: 'forged' } } } as ConcludeRequest);
    });
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.match(err.details, /does not hold the lease/);
    const after = await c.client.getJob({ jobId: job.id, includeLogs: false });
    assert.equal(after.job!.state, JobState.JOB_STATE_QUEUED);
    void (null as unknown as ConcludeResponse);
  });

  it('Dispatch must start with Hello', async () => {
    const call = c.client.raw.dispatch();
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('error', resolve);
      call.on('data', () => {});
      call.write({ msg: { $case: 'heartbeat', heartbeat: { active: [] } } } as DispatchRequest);
    });
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err.details, /first Dispatch message must be Hello/);
    void (null as unknown as DispatchResponse);
  });
});
