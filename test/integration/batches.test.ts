/**
 * SubmitJobs and WatchJobs on a real Sentinel with a real worker and Python:
 * one call queues a batch, one stream follows it to the end; bad input of
 * every kind gets a clear status and queues nothing; the CLI's submit --wait
 * uses both.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { WatchJobsResponse } from '../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli } from '../helpers/cli-run';
import { Cluster } from '../helpers/cluster';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';

const status = (c: grpc.status, re: RegExp) => (e: grpc.ServiceError) => {
  assert.equal(grpc.status[e.code], grpc.status[c], e.details);
  assert.match(e.details, re);
  return true;
};

describe('integration: SubmitJobs and WatchJobs', function () {
  this.timeout(600_000);
  let c: Cluster;
  before(async () => {
    c = await Cluster.start({ workers: [{ slots: 2 }] });
    await c.publish('values', faultPlugin('values.py'));
  });
  after(() => c?.stop());

  const files = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => writeCsv(c.inputDir, `${prefix}-${i}.csv`, 2, i));

  it('queues a batch in one call and follows it to the end on one stream', async () => {
    const inputs = files('batch', 6);
    const res = await c.client.submitJobs({ pluginName: 'values', inputPaths: inputs });
    assert.equal(res.created, true);
    assert.equal(res.jobIds.length, 6);
    assert.equal(res.pluginVersion, '1.0.0');
    const events: WatchJobsResponse[] = [];
    for await (const ev of c.client.watchJobs({ batchId: res.batchId })) events.push(ev);
    assert.equal(events[0].job, undefined, 'the first event is a snapshot of the counts');
    assert.equal(events[0].counts?.total, 6);
    const last = events[events.length - 1];
    assert.deepEqual(last.counts, { total: 6, queued: 0, running: 0, succeeded: 6, failed: 0, cancelled: 0, deadLetter: 0 });
    const finished = new Set(events.filter((e) => e.job?.state === JobState.JOB_STATE_SUCCEEDED).map((e) => e.job!.id));
    assert.deepEqual([...finished].sort(), [...res.jobIds].sort(), 'every job was seen succeeding on the stream');
    assert.ok(events.every((e) => !e.job || e.job.batchId === res.batchId));

    const listed = (await c.client.listJobs({ batchId: res.batchId, pageSize: 100 })).jobs;
    assert.deepEqual(listed.map((j) => j.id).reverse(), res.jobIds, 'ListJobs by batch, newest first');
    assert.deepEqual(listed.map((j) => j.inputPath).reverse(), inputs);
    assert.equal((await c.client.getJob({ jobId: res.jobIds[0] })).job?.batchId, res.batchId);

    // A watch of a finished batch: the snapshot, and the stream ends.
    const again: WatchJobsResponse[] = [];
    for await (const ev of c.client.watchJobs({ batchId: res.batchId })) again.push(ev);
    assert.equal(again.length, 1);
    assert.equal(again[0].counts?.succeeded, 6);
  });

  it('an idempotency key names one batch: the same request returns it, another is ALREADY_EXISTS', async () => {
    const inputs = files('idem', 2);
    const first = await c.client.submitJobs({ pluginName: 'values', inputPaths: inputs, idempotencyKey: 'nightly-1' });
    const again = await c.client.submitJobs({ pluginName: 'values', inputPaths: inputs, idempotencyKey: 'nightly-1' });
    assert.deepEqual([again.created, again.batchId, again.jobIds], [false, first.batchId, first.jobIds]);
    await assert.rejects(
      c.client.submitJobs({ pluginName: 'values', inputPaths: [inputs[1], inputs[0]], idempotencyKey: 'nightly-1' }),
      status(grpc.status.ALREADY_EXISTS, new RegExp(`already names batch ${first.batchId}`)),
    );
  });

  it('bad input gets a clear status and queues nothing', async () => {
    const before = (await c.client.listJobs({ pageSize: 1000 })).jobs.length;
    const ok = files('bad', 3);
    const bad = (o: object) => c.client.submitJobs({ pluginName: 'values', inputPaths: ok, ...o });
    await assert.rejects(bad({ inputPaths: [] }), status(grpc.status.INVALID_ARGUMENT, /input_paths is empty/));
    await assert.rejects(bad({ inputPaths: Array.from({ length: 10_001 }, (_, i) => `/x/${i}.csv`) }), status(grpc.status.INVALID_ARGUMENT, /10001 entries; at most 10000/));
    await assert.rejects(bad({ inputPaths: [ok[0], ok[1], 'relative.csv'] }), status(grpc.status.INVALID_ARGUMENT, /^input_paths\[2\] must be an absolute path/));
    await assert.rejects(bad({ inputPaths: [ok[0], '/etc/passwd'] }), status(grpc.status.PERMISSION_DENIED, /^input_paths\[1\]: input_path \/etc\/passwd is outside/));
    await assert.rejects(bad({ inputPaths: [ok[0], ''] }), status(grpc.status.INVALID_ARGUMENT, /input_paths\[1\] is required/));
    await assert.rejects(bad({ pluginName: 'nope' }), status(grpc.status.NOT_FOUND, /plugin nope is not published/));
    await assert.rejects(bad({ pluginName: '../x' }), status(grpc.status.INVALID_ARGUMENT, /plugin_name/));
    await assert.rejects(bad({ maxAttempts: 1000 }), status(grpc.status.INVALID_ARGUMENT, /max_attempts/));
    await assert.rejects(bad({ timeouts: { idleMs: 700_000_000 } }), status(grpc.status.INVALID_ARGUMENT, /timeouts.idle_ms/));
    await assert.rejects(bad({ idempotencyKey: 'k'.repeat(257) }), status(grpc.status.INVALID_ARGUMENT, /idempotency_key/));
    assert.equal((await c.client.listJobs({ pageSize: 1000 })).jobs.length, before, 'no job was queued');

    const watch = async (o: object) => {
      for await (const ev of c.client.watchJobs(o)) void ev;
    };
    await assert.rejects(watch({ batchId: 'no-such-batch' }), status(grpc.status.NOT_FOUND, /batch no-such-batch does not exist/));
    await assert.rejects(watch({ batchId: 'b', pluginName: 'values' }), status(grpc.status.INVALID_ARGUMENT, /not both/));
    await assert.rejects(watch({ batchId: '../../etc' }), status(grpc.status.INVALID_ARGUMENT, /batch_id/));
    await assert.rejects(c.client.listJobs({ batchId: 'x y' }), status(grpc.status.INVALID_ARGUMENT, /batch_id/));
  });

  it('a plugin watch sees jobs submitted after it opened, until the client cancels', async () => {
    const call = c.client.raw.watchJobs({ batchId: '', pluginName: 'values' });
    const seen: string[] = [];
    const ended = new Promise<void>((resolve) => {
      call.on('data', (ev: WatchJobsResponse) => ev.job?.state === JobState.JOB_STATE_SUCCEEDED && seen.push(ev.job.id));
      call.on('error', () => resolve());
      call.on('end', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200)); // subscribed before the submit
    const res = await c.client.submitJobs({ pluginName: 'values', inputPaths: files('follow', 2) });
    const deadline = Date.now() + 120_000;
    while (!res.jobIds.every((id) => seen.includes(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(res.jobIds.filter((id) => !seen.includes(id)), [], 'both jobs were seen succeeding');
    call.cancel();
    await ended;
  });

  it('casparian submit FILES --wait: one batch, one progress view on stderr, a table on stdout', async () => {
    const inputs = files('cli', 3);
    const r = await runCli(['submit', 'values', ...inputs, '--wait', '--sentinel', c.address], { timeoutMs: 280_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^3\/3 done: 3 succeeded; 0 running, 0 queued; [\d.]+ jobs\/s$/m);
    const rows = r.stdout.split('\n').filter((l) => inputs.some((f) => l.includes(path.basename(f))));
    assert.equal(rows.length, 3, r.stdout);
    assert.ok(rows.every((l) => /\bsucceeded\b/.test(l)));
    const batchIds = new Set(
      await Promise.all(rows.map(async (l) => (await c.client.getJob({ jobId: l.split(/\s+/)[0] })).job!.batchId)),
    );
    assert.equal(batchIds.size, 1, 'the three jobs were submitted as one batch');
  });
});
