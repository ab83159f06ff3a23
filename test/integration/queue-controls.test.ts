/**
 * Queue controls on real processes: a Sentinel and a worker started through
 * the CLI, running the `values` fixture plugin in real Python with pyarrow.
 *  - priority: a job submitted behind 100 queued ones runs next;
 *  - not_before (through `casparian submit --not-before +2s`): the job does
 *    not start before it, and starts soon after;
 *  - max_concurrency 1: one attempt at a time while the worker has 4 slots.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { FAULT_PLUGINS, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { SHARED_LOCKFILE } from '../helpers/python-env';
import { FINAL_STATES } from '../helpers/test-cluster';
import { waitFor } from '../helpers/wait';

const ms = (d: Date | undefined): number => d?.getTime() ?? NaN;

describe('integration: queue controls (real Sentinel, worker and Python)', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('a high-priority job submitted behind 100 queued ones runs next', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 1 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);
    // Occupy the only slot, so the others queue up behind it.
    const blocker = await c.submit('values', writeCsv(c.inputDir, 'blocker.csv', 2, 0, ['# sleep=2']));
    await c.waitJob(blocker.id, 60_000, (j) => j.state === JobState.JOB_STATE_RUNNING);
    const paths = Array.from({ length: 100 }, (_, i) => writeCsv(c.inputDir, `low-${i}.csv`, 2, i));
    const low = await c.client.submitJobs({ pluginName: 'values', pluginVersion: '', inputPaths: paths, idempotencyKey: '', maxAttempts: 0, timeouts: undefined, priority: 0 });
    const high = (await c.client.submitJob({ pluginName: 'values', pluginVersion: '', inputPath: writeCsv(c.inputDir, 'high.csv', 2, 7), idempotencyKey: '', maxAttempts: 0, timeouts: undefined, priority: 10 })).job!;
    assert.equal(high.priority, 10);
    const done = await c.waitJob(high.id, 60_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
    const lows = (await c.client.listJobs({ batchId: low.batchId, pageSize: 1000, pageToken: '' })).jobs;
    assert.equal(lows.length, 100);
    const ranBefore = lows.filter((j) => j.startedAt && ms(j.startedAt) < ms(done.startedAt));
    assert.deepEqual(ranBefore.map((j) => j.inputPath), [], 'no job of priority 0 started before the high-priority one');
    assert.ok(ms(done.startedAt) >= ms((await c.getJob(blocker.id)).finishedAt) - 50, 'it ran right after the blocker');
  });

  clusters.it('a job with --not-before +2s does not start before that time, and then runs', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);
    const file = writeCsv(c.inputDir, 'later.csv', 3, 1);
    const bad = await runCli(['submit', 'values', file, '--not-before', 'soon', '--sentinel', c.address]);
    assert.equal(bad.code, 2, showCli(bad));
    assert.match(bad.stderr, /--not-before wants an ISO-8601 time .* or a duration from now .*; got "soon"/);
    await assert.rejects(
      c.client.submitJob({ pluginName: 'values', pluginVersion: '', inputPath: file, idempotencyKey: '', maxAttempts: 0, timeouts: undefined, priority: 0, notBefore: new Date(Date.now() + 400 * 86_400_000) }),
      (e: { code: number; details: string }) => e.code === grpc.status.INVALID_ARGUMENT && /not_before .* is more than 365 days ahead/.test(e.details),
    );
    const r = await runCli(['submit', 'values', file, '--not-before', '+2s', '--json', '--sentinel', c.address]);
    assert.equal(r.code, 0, showCli(r));
    const [jobId] = (JSON.parse(r.stdout) as { jobIds: string[] }[])[0].jobIds;
    const queued = await c.getJob(jobId);
    const notBefore = ms(queued.notBefore);
    assert.ok(notBefore > Date.now(), `not_before ${queued.notBefore?.toISOString()} is ahead`);
    assert.equal(queued.state, JobState.JOB_STATE_QUEUED);
    assert.match(queued.waitingReason, /^waiting: not before /);
    const job = await c.waitJob(jobId, 60_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.ok(ms(job.startedAt) >= notBefore, `started ${job.startedAt?.toISOString()}, not before ${queued.notBefore?.toISOString()}`);
    assert.ok(ms(job.startedAt) - notBefore < 5_000, 'and started within a few seconds of it');
    const shown = await runCli(['job', jobId, '--sentinel', c.address]);
    assert.match(shown.stdout, new RegExp(`not before ${queued.notBefore!.toISOString()}`), showCli(shown));
  });

  clusters.it('max_concurrency 1 holds under 4 free slots: one attempt at a time, the others wait with a reason', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 4 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);
    const lockfile = path.join(c.root, 'requirements.lock');
    fs.writeFileSync(lockfile, SHARED_LOCKFILE);
    const publish = (...extra: string[]) => runCli(['publish', path.join(FAULT_PLUGINS, 'values.py'), '--name', 'capped', '--lockfile', lockfile, '--sentinel', c.address, ...extra]);
    const negative = await publish('--max-concurrency=-1');
    assert.equal(negative.code, 2, showCli(negative));
    assert.match(negative.stderr, /--max-concurrency must be a non-negative integer, got "-1"/);
    const pub = await publish('--max-concurrency', '1');
    assert.equal(pub.code, 0, showCli(pub));
    const ids = await Promise.all([0, 1, 2, 3].map(async (i) => (await c.submit('capped', writeCsv(c.inputDir, `capped-${i}.csv`, 2, i, ['# sleep=1']))).id));
    let maxRunning = 0;
    let sawReason = false;
    const all = await waitFor(
      'the capped jobs to finish',
      async () => {
        const jobs = await Promise.all(ids.map((id) => c.getJob(id)));
        const running = jobs.filter((j) => j.state === JobState.JOB_STATE_DISPATCHED || j.state === JobState.JOB_STATE_RUNNING).length;
        maxRunning = Math.max(maxRunning, running);
        sawReason ||= jobs.some((j) => j.state === JobState.JOB_STATE_QUEUED && /concurrency cap \(max_concurrency 1; 1 running\)/.test(j.waitingReason));
        return jobs.every((j) => FINAL_STATES.includes(j.state)) ? jobs : undefined;
      },
      120_000,
      25,
    );
    assert.ok(all.every((j) => j.state === JobState.JOB_STATE_SUCCEEDED), JSON.stringify(all.map((j) => j.error)));
    assert.equal(maxRunning, 1, 'never more than one attempt at once');
    assert.ok(sawReason, 'a held job said it waits for the cap');
    // The attempts' own times do not overlap either.
    const byStart = [...all].sort((a: Job, b: Job) => ms(a.startedAt) - ms(b.startedAt));
    for (let i = 1; i < byStart.length; i++) assert.ok(ms(byStart[i].startedAt) >= ms(byStart[i - 1].finishedAt), `job ${i} started before job ${i - 1} finished`);
  });
});
