/**
 * The circuit breaker counts only the plugin's own failures: a worker whose
 * bridge is broken (its shim dies before the handshake) fails attempts with
 * GUEST_START_FAILED, which must never pause a healthy plugin. Real Sentinel,
 * real workers, real Python.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorClass, JobState, type Job } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { Fatal, waitFor } from '../helpers/wait';

describe('integration: a broken bridge on one worker does not pause a healthy plugin', function () {
  this.timeout(600_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await Cluster.start({
      // A retry keeps its place in line (FIFO by submission), so with a backoff shorter than one failing
      // attempt the two oldest jobs would take turns and the third never run: 1 s lets each job fail in turn.
      sentinel: { backoff: { initialMs: 1_000, multiplier: 1, maxMs: 1_000, jitter: 0 }, breakerThreshold: 2 },
      workers: [{ slots: 1, workerId: 'healthy-warmup' }],
    });
    await cluster.publish('values', faultPlugin('values.py'));
    await warmUp(cluster); // the env exists before the broken worker takes anything
    await cluster.workers[0].shutdown(5_000);
  });
  after(() => cluster?.stop());

  it('GUEST_START_FAILED attempts retry, never count toward the breaker, and the jobs succeed on a healthy worker', async () => {
    const brokenShim = path.join(cluster.root, 'broken_shim.py');
    fs.writeFileSync(brokenShim, 'import sys\nprint("this bridge is broken", file=sys.stderr)\nsys.exit(3)\n');
    await cluster.addWorker({ slots: 1, workerId: 'broken' }, process.env, { shimPath: brokenShim });

    const jobs: Job[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await cluster.submit('values', writeCsv(cluster.inputDir, `blame-${i}.csv`, 3, i), { maxAttempts: 20 }));
    // Only the broken worker is connected: every attempt fails before the plugin runs.
    // One slot, so at most one attempt is in flight: attempt numbers summing to 7 mean 6 have failed.
    const paused = async () => (await cluster.client.listPlugins({ name: 'values' })).plugins[0].paused;
    await waitFor(
      '6 failed attempts on the broken worker',
      async () => {
        if (await paused()) throw new Fatal('the plugin was paused by failures that are not its fault');
        const now = await Promise.all(jobs.map((j) => cluster.getJob(j.id)));
        return now.every((j) => j.error) && now.reduce((n, j) => n + j.attempt, 0) >= 7;
      },
      60_000,
    );
    const failed = await cluster.getJob(jobs[0].id);
    assert.equal(failed.error?.code, 'GUEST_START_FAILED', JSON.stringify(failed.error));
    assert.equal(failed.error?.errorClass, ErrorClass.ERROR_CLASS_TRANSIENT);
    assert.match(failed.error!.message, /before the bridge handshake: this bridge is broken/);
    const plugin = (await cluster.client.listPlugins({ name: 'values' })).plugins[0];
    assert.equal(plugin.paused, false, 'a broken bridge does not pause the plugin');
    assert.equal(plugin.consecutiveFailures, 0, 'none of those failures counted');

    await cluster.addWorker({ slots: 1, workerId: 'healthy' });
    for (const j of jobs) {
      const done = await cluster.waitJob(j.id, 120_000);
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
      assert.equal(done.workerId, 'healthy');
      assert.ok(done.attempt >= 2, `job ${j.id} was retried (attempt ${done.attempt})`);
    }
  });
});
