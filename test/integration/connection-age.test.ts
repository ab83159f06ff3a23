/**
 * Max connection age on a real Sentinel process: with
 * CASPARIAN_MAX_CONNECTION_AGE_MS the Sentinel sends GOAWAY to old
 * connections and closes them after the grace period, so a mesh's load
 * balancer can move clients; a worker reconnects on its own and keeps
 * running jobs.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

describe('integration: max connection age (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('old connections are closed after age + grace; the worker reconnects and jobs still run', async () => {
    const c = clusters.track(
      await ProcCluster.start({ workers: ['w1'], sentinelEnv: { CASPARIAN_MAX_CONNECTION_AGE_MS: '2000', CASPARIAN_MAX_CONNECTION_AGE_GRACE_MS: '1000' } }),
    );
    const first = (await c.client.listWorkers({})).workers[0].connectedAt!.getTime();
    await waitFor(
      'the worker to be on a new connection',
      async () => (await c.client.listWorkers({})).workers.some((w) => w.workerId === 'w1' && w.connectedAt!.getTime() > first),
      30_000,
      250,
    );
    assert.match(fs.readFileSync(c.worker('w1').logFile, 'utf8'), /dispatch stream down; reconnecting/);
    await c.publish('values', faultPlugin('values.py'));
    const job = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'age.csv', 3, 1))).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
  });
});
