/**
 * Fault: the fork server of a worker process is killed with SIGKILL while one
 * of its guests runs a job (the default isolation, fork). The worker stays:
 * the attempt fails as WORKER_LOST and is retried, the worker starts a new
 * server for it, the job and the next one succeed, and no process of the
 * killed server or of its guest (nor the subprocess the guest started) is
 * left behind.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { isForkServer, pidAlive, procInfo } from '../helpers/proc-inspect';
import { waitFor } from '../helpers/wait';

/** The parent pid of a live process (field 4 of /proc/PID/stat). */
function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('faults: fork server killed under a running job', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('kill -9 of the fork server: WORKER_LOST, retried on a new server, the next job succeeds, nothing left', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await c.publish('spawn_child', faultPlugin('spawn_child.py'));
    await warmUp(c);

    // spawn_child starts `sleep 300` and, on its first run only, sleeps the seconds on the input's first line.
    const file = c.input('slow.txt', '60\n');
    const submitted = await c.submit('spawn_child', file, { maxAttempts: 3 });
    const [guest, child] = await waitFor(
      'the plugin to record its pids',
      () => (fs.existsSync(`${file}.pids`) ? fs.readFileSync(`${file}.pids`, 'utf8').trim().split(' ').map(Number) : undefined),
      60_000,
      50,
    );
    const server = parentOf(guest);
    const info = procInfo(server);
    assert.ok(info && isForkServer(info), `the guest's parent is a fork server: ${info?.cmdline}`);
    assert.equal(parentOf(server), c.worker('w1').pid, "and that server is the worker's child");
    process.kill(server, 'SIGKILL');

    const retried = await c.waitJob(submitted.id, 60_000, (j) => j.attempt >= 2);
    assert.equal(retried.error?.code, 'WORKER_LOST', `attempt 1 failed as worker_lost: ${JSON.stringify(retried.error)}`);
    const job = await c.waitJob(submitted.id, 60_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.attempt, 2);
    assert.equal(job.workerId, 'w1', 'the same worker process');
    assert.ok(c.worker('w1').alive);
    await waitFor('the first guest, its subprocess and the killed server to be gone', () => ![guest, child, server].some(pidAlive), 10_000, 50);

    const [, secondGuest] = fs.readFileSync(`${file}.pids`, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]));
    assert.ok(secondGuest && secondGuest !== guest, 'the retry ran in another guest');

    const next = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'after.csv', 4, 9))).id, 60_000);
    assert.equal(next.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(next.error));
    assert.equal(await checkValues(c, next.id, 4, 9), '');
    await waitFor('no guest process to remain', () => c.guests().length === 0, 10_000);
    const log = fs.readdirSync(c.logDir).filter((f) => f.startsWith('w1.')).map((f) => fs.readFileSync(`${c.logDir}/${f}`, 'utf8')).join('');
    assert.equal(log.split('\n').filter((l) => l.includes('"msg":"fork server ready"')).length, 2, 'a second server was started');
    assert.equal(log.split('\n').filter((l) => l.includes('"msg":"fork server died"')).length, 1);
  });
});
