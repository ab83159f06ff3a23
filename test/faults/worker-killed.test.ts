/**
 * Fault: a worker process is killed with SIGKILL while its plugin runs.
 * Another worker completes the job; exactly one output is committed.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

describe('faults: worker killed mid-job', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('kill -9 of the worker running a job: another worker completes it, one output committed', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1', 'w2'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    const file = writeCsv(c.inputDir, 'slow.csv', 7, 3, ['# sleep=3']);
    const submitted = await c.submit('values', file, { maxAttempts: 3 });
    // Wait until the plugin itself is running (it records its pid first).
    await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    const running = await c.getJob(submitted.id);
    assert.equal(running.state, JobState.JOB_STATE_RUNNING);
    assert.equal(running.attempt, 1);
    const victim = running.workerId;
    const survivor = victim === 'w1' ? 'w2' : 'w1';
    const t0 = Date.now();
    await c.worker(victim).kill9();

    const job = await c.waitJob(submitted.id, 60_000);
    const recoveredMs = Date.now() - t0;
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.ok(job.attempt >= 2, `attempt ${job.attempt}`);
    assert.equal(job.workerId, survivor);
    assert.deepEqual(c.attemptDirs(job.id), [`attempt-${job.attempt}`], 'exactly one committed attempt dir: the final one');
    assert.equal(await checkValues(c, job.id, 7, 3), '');
    assert.equal(fs.readFileSync(`${file}.runs`, 'utf8').trim().split('\n').length, 2, 'the plugin ran exactly twice');
    // The killed worker's guest noticed its worker was gone and exited.
    await waitFor('no guest process to remain', () => c.guests().length === 0, 10_000);
    // The sentinel cleaned up the staging area of the lost attempt.
    assert.deepEqual(c.stagingDirs(), []);
    process.stderr.write(`      recovered ${recoveredMs} ms after the kill; leftover bridge dirs of the killed worker: ${c.bridgeDirs().length}\n`);
  });
});
