/**
 * Fault: SIGTERM to a worker process (drain). A short job finishes on the
 * draining worker, which then exits 0; a job longer than the grace period
 * (the CLI worker's default, 10 s: Worker.shutdown(graceMs = 10_000) called
 * without an argument by tools/cli/services.ts) is handed back and completed
 * by another worker.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

const WORKER_GRACE_MS = 10_000;

describe('faults: worker drain on SIGTERM', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('SIGTERM during a 2 s job: the job succeeds on that worker, no new work is taken, exit code 0', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    const file = writeCsv(c.inputDir, 'two-seconds.csv', 5, 2, ['# sleep=2']);
    const submitted = await c.submit('values', file);
    await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    const w1 = c.worker('w1');
    w1.signal('SIGTERM');
    await waitFor('the worker to start draining', () => fs.readFileSync(w1.logFile, 'utf8').includes('draining'), 5_000, 20);
    // Submitted while draining: must not go to w1.
    const late = await c.submit('values', writeCsv(c.inputDir, 'late.csv', 3, 4));

    const exit = await w1.waitExit(WORKER_GRACE_MS + 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, 'the worker exits 0 after draining');
    const job = await c.waitJob(submitted.id, 10_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.attempt, 1);
    assert.equal(job.workerId, 'w1');
    assert.equal(await checkValues(c, job.id, 5, 2), '');
    const lateNow = await c.getJob(late.id);
    assert.equal(lateNow.state, JobState.JOB_STATE_QUEUED, `the draining worker took new work: ${JSON.stringify(lateNow)}`);
    assert.equal(lateNow.attempt, 0);

    await c.startWorker('w2');
    const lateDone = await c.waitJob(late.id, 60_000);
    assert.equal(lateDone.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(lateDone.workerId, 'w2');
  });

  clusters.it('SIGTERM during a 30 s job: after the grace period it is handed back and completed by another worker', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    // Sleeps 30 s on its first run only, so the handed-back attempt finishes quickly.
    const file = writeCsv(c.inputDir, 'long.csv', 6, 5, ['# sleep-once=30']);
    const submitted = await c.submit('values', file, { maxAttempts: 3 });
    await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    await c.startWorker('w2');
    const w1 = c.worker('w1');
    const t0 = Date.now();
    w1.signal('SIGTERM');
    const exit = await w1.waitExit(WORKER_GRACE_MS + 15_000);
    const exitMs = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, 'the worker exits 0 after handing the job back');
    assert.ok(exitMs >= WORKER_GRACE_MS - 500, `exited after ${exitMs} ms, before the grace period`);

    const job = await c.waitJob(submitted.id, 60_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.attempt, 2);
    assert.equal(job.workerId, 'w2');
    assert.deepEqual(c.attemptDirs(job.id), ['attempt-2']);
    assert.equal(await checkValues(c, job.id, 6, 5), '');
    const handedBackMs = Date.now() - t0;
    await waitFor('no guest process to remain', () => c.guests().length === 0, 10_000);
    process.stderr.write(`      worker exited ${exitMs} ms after SIGTERM; job done on w2 ${handedBackMs} ms after SIGTERM\n`);
  });
});
