/**
 * The operator's allow-list of host variables a plugin may ask for
 * (--guest-env-allow), on real processes: a worker whose environment holds a
 * secret and an allowed variable. A plugin gets only what it asked for and
 * the operator allows; asking for more fails the job at dispatch, permanently,
 * naming the variables; the secret reaches no plugin.
 */
import { strict as assert } from 'node:assert';
import { JobState } from '../../services/gen/casparian/v1/types';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

const PLUGIN = `
import os
import pyarrow as pa

def parse(path):
    return pa.table({
        "allowed": [os.environ.get("REGION_NAME", "<unset>")],
        "secret": [os.environ.get("DB_PASSWORD", "<unset>")],
    })
`;

describe('integration: --guest-env-allow (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('a plugin gets an allowed variable it asks for; asking for one the operator does not allow fails at dispatch with ENV_NOT_ALLOWED', async () => {
    const c = clusters.track(await ProcCluster.start());
    await c.startWorker('w1', { env: { REGION_NAME: 'eu-north', DB_PASSWORD: 'hunter2', CASPARIAN_GUEST_ENV_ALLOW: 'REGION_NAME' } });
    await c.publish('envy', PLUGIN, { envAllow: ['REGION_NAME'] });
    await c.publish('greedy', PLUGIN, { envAllow: ['REGION_NAME', 'DB_PASSWORD'] });

    const ok = await c.waitJob((await c.submit('envy', c.input('a.txt', 'x\n'))).id);
    assert.equal(ok.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(ok.error));
    const { tableFromIPC } = await import('apache-arrow');
    const [row] = tableFromIPC((await c.client.fetchOutput(ok.id)).ipc).toArray();
    assert.equal(row.allowed, 'eu-north');
    assert.equal(row.secret, '<unset>', 'a variable the plugin did not ask for never reaches it');

    const refused = await c.waitJob((await c.submit('greedy', c.input('b.txt', 'x\n'), { maxAttempts: 3 })).id);
    assert.equal(refused.state, JobState.JOB_STATE_FAILED);
    assert.equal(refused.error?.code, 'ENV_NOT_ALLOWED');
    assert.equal(refused.error?.retryable, false);
    assert.equal(refused.attempt, 1, 'not retried');
    assert.match(refused.error!.message, /does not pass to plugins: DB_PASSWORD \(the worker's --guest-env-allow lists: REGION_NAME\)/);
    assert.ok(!JSON.stringify(refused).includes('hunter2'));
  });
});
