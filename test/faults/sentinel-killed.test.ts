/**
 * Fault: the Sentinel is killed with SIGKILL in the middle of a batch of 200
 * jobs, then restarted on the same port and data dir. Every job reaches
 * succeeded, none has two committed outputs, and the values are right.
 */
import { strict as assert } from 'node:assert';
import { JobState } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { clusterStore } from '../helpers/stores';
import { FINAL_STATES } from '../helpers/test-cluster';
import { waitFor } from '../helpers/wait';

const JOBS = 200;

describe('faults: Sentinel killed mid-batch', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it(`kill -9 the Sentinel during ${JOBS} jobs, restart it: all succeed, one committed output each`, async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1', 'w2'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    const t0 = Date.now();
    const jobs: { id: string; seed: number; rows: number }[] = [];
    for (let i = 0; i < JOBS; i++) {
      const rows = 1 + (i % 7);
      const job = await c.submit('values', writeCsv(c.inputDir, `batch-${i}.csv`, rows, i), { maxAttempts: 5 });
      jobs.push({ id: job.id, seed: i, rows });
    }
    const counts = async () => {
      const all = await c.listJobs('values');
      return {
        succeeded: all.filter((j) => j.state === JobState.JOB_STATE_SUCCEEDED).length - 1, // minus the warm-up job
        running: all.filter((j) => j.state === JobState.JOB_STATE_RUNNING || j.state === JobState.JOB_STATE_DISPATCHED).length,
      };
    };
    // Kill it while some jobs are done, some run and most are queued.
    const atKill = await waitFor('a quarter of the batch to succeed', async () => {
      const n = await counts();
      return n.succeeded >= JOBS / 4 && n.running > 0 ? n : undefined;
    }, 180_000, 50);
    await c.sentinel!.kill9();
    const killedAt = Date.now();
    await c.startSentinel();
    const restartMs = Date.now() - killedAt;
    await waitFor('both workers to reconnect', async () => (await c.client.listWorkers({})).workers.length === 2, 30_000);

    const finals = await waitFor(
      'every job to finish',
      async () => {
        const all = (await c.listJobs('values')).filter((j) => jobs.some((x) => x.id === j.id));
        return all.length === JOBS && all.every((j) => FINAL_STATES.includes(j.state)) ? all : undefined;
      },
      300_000,
      250,
    );
    const elapsed = Date.now() - t0;
    const notOk = finals.filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(notOk.map((j) => [j.id, JobState[j.state], j.error?.code, j.error?.message]), [], 'every job succeeds');

    const byId = new Map(finals.map((j) => [j.id, j]));
    const badDirs = jobs
      .map((j) => ({ id: j.id, dirs: c.attemptDirs(j.id), attempt: byId.get(j.id)!.attempt }))
      .filter((x) => x.dirs.length !== 1 || x.dirs[0] !== `attempt-${x.attempt}`);
    assert.deepEqual(badDirs, [], 'exactly one committed attempt dir per job, the final attempt');
    if (clusterStore() === 'sqlite') assert.deepEqual(c.stagingDirs(), [], 'no staging dir is left');
    // On PostgreSQL the restarted Sentinel keeps the staging dirs of attempts that were still leased (another replica
    // might have been receiving them); the staging sweep removes each once its lease is gone.
    else await waitFor('no staging dir to be left', () => c.stagingDirs().length === 0, 20_000, 200);

    const retried = finals.filter((j) => j.attempt > 1).length;
    const sample = [...jobs.filter((j) => byId.get(j.id)!.attempt > 1).slice(0, 10), ...jobs.filter((_, i) => i % 20 === 0)];
    for (const j of sample) assert.equal(await checkValues(c, j.id, j.rows, j.seed), '');
    process.stderr.write(
      `      killed with ${atKill.succeeded} succeeded / ${atKill.running} running; restart took ${restartMs} ms; ` +
        `${retried} jobs needed >1 attempt; batch done in ${(elapsed / 1000).toFixed(1)} s\n`,
    );
  });
});
