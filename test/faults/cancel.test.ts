/**
 * Fault: a running job is cancelled. The plugin's whole process group goes
 * (the guest and the `sleep 60` it started), the job ends cancelled, and
 * nothing is committed.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorClass, JobState } from '../../services/gen/casparian/v1/types';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { pidAlive } from '../helpers/proc-inspect';
import { waitFor } from '../helpers/wait';

describe('faults: cancelling a running job', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('CancelJob while the plugin sleeps: cancelled, nothing committed, guest and its child are gone', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await c.publish('cancel_me', faultPlugin('cancel_me.py'));
    await warmUp(c);

    const file = path.join(c.inputDir, 'cancel.txt');
    fs.writeFileSync(file, 'x\n');
    const submitted = await c.submit('cancel_me', file, { maxAttempts: 3 });
    const [guestPid, childPid] = await waitFor(
      'the plugin to record its pids',
      () => (fs.existsSync(`${file}.pids`) ? fs.readFileSync(`${file}.pids`, 'utf8').trim().split(' ').map(Number) : undefined),
      60_000,
      50,
    );
    assert.ok(pidAlive(guestPid) && pidAlive(childPid), 'both processes run before the cancel');
    assert.equal((await c.getJob(submitted.id)).state, JobState.JOB_STATE_RUNNING);

    const t0 = Date.now();
    await c.client.cancelJob({ jobId: submitted.id, reason: 'fault test' });
    const job = await c.waitJob(submitted.id, 30_000);
    assert.equal(job.state, JobState.JOB_STATE_CANCELLED, JSON.stringify(job.error));
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_CANCELLED);
    assert.equal(job.attempt, 1, 'a cancelled job is not retried');
    assert.deepEqual(c.attemptDirs(job.id), [], 'nothing committed');
    await waitFor('guest and child to be gone', () => !pidAlive(guestPid) && !pidAlive(childPid), 15_000, 50);
    const goneMs = Date.now() - t0;
    assert.deepEqual(c.guests(), []);
    // The worker is still fine afterwards.
    const normal = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'after.csv', 3, 1))).id, 60_000);
    assert.equal(normal.state, JobState.JOB_STATE_SUCCEEDED);
    // Still cancelled later: the settled state is not overwritten.
    assert.equal((await c.getJob(job.id)).state, JobState.JOB_STATE_CANCELLED);
    assert.deepEqual(c.bridgeDirs(), [], 'the bridge private dir is removed');
    process.stderr.write(`      processes gone ${goneMs} ms after CancelJob\n`);
  });
});
