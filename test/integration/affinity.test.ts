/**
 * Scheduling by environment: jobs go to the worker that already has their
 * env; a job no worker can run waits with a reason and, with a
 * schedule-to-start timeout, fails with ENV_UNAVAILABLE.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobState, ErrorClass } from '../../services/gen/casparian/v1/types';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { Cluster } from '../helpers/cluster';
import { envManagerConfig } from '../helpers/env-fixtures';
import { pyarrowPython, REPO_ROOT } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';

const SOURCE = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'double_values.py'), 'utf8');
const LOCK_X = '# affinity env X\npyarrow==25.0.1\n';
const LOCK_Y = '# affinity env Y\npyarrow==25.0.1\n';

async function linkInto(home: string, lockfile: string): Promise<void> {
  const venv = path.dirname(path.dirname(await pyarrowPython()));
  const m = new EnvManager(envManagerConfig(home, { failureCacheMs: 0 }), { env: process.env });
  await m.init();
  await m.link(envHashOf(lockfile), venv);
}

describe('integration: env affinity and schedule-to-start', function () {
  this.timeout(180_000);
  const homes: string[] = [];
  const newHome = (): string => {
    const h = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-aff-home-'));
    homes.push(h);
    return h;
  };
  const INPUT = '1,2.5\n2,3.5\n';
  after(() => {
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  });

  it('routes each job to the worker that holds its env', async () => {
    const homeA = newHome();
    const homeB = newHome();
    await linkInto(homeA, LOCK_X);
    await linkInto(homeB, LOCK_Y);
    const c = await Cluster.start({ workers: [] });
    try {
      const a = await c.addWorker({ home: homeA, workerId: 'worker-a' });
      const b = await c.addWorker({ home: homeB, workerId: 'worker-b' });
      assert.ok(a && b);
      const workers = (await c.client.listWorkers({})).workers;
      assert.deepEqual(workers.find((w) => w.workerId === 'worker-a')!.envs.map((e) => e.envHash), [envHashOf(LOCK_X)]);
      await c.publish('px', SOURCE, { lockfile: LOCK_X });
      await c.publish('py', SOURCE, { lockfile: LOCK_Y });
      const input = c.input('in.csv', INPUT);
      const ranOn: Record<string, string[]> = { px: [], py: [] };
      for (const plugin of ['px', 'py', 'py', 'px', 'px', 'py']) {
        const job = await c.submit(plugin, input);
        const done = await c.waitJob(job.id, 60_000);
        assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, done.error?.message);
        assert.equal(done.metrics?.envProvisioned, false, 'nothing was provisioned');
        ranOn[plugin].push(done.workerId);
      }
      assert.deepEqual(ranOn, { px: ['worker-a', 'worker-a', 'worker-a'], py: ['worker-b', 'worker-b', 'worker-b'] });
    } finally {
      await c.stop();
    }
  });

  it('a job no worker can run waits with a reason, then fails with ENV_UNAVAILABLE', async () => {
    const c = await Cluster.start({ workers: [{ envMode: 'strict', home: newHome() }] });
    try {
      await c.publish('nowhere', SOURCE, { lockfile: '# env nobody has\npyarrow==25.0.1\n' });
      const input = c.input('in.csv', INPUT);
      const job = (
        await c.client.submitJob({
          pluginName: 'nowhere',
          pluginVersion: '',
          inputPath: input,
          idempotencyKey: '',
          maxAttempts: 0,
          timeouts: { guestConnectMs: 0, idleMs: 0, startToCloseMs: 0, killGraceMs: 0, scheduleToStartMs: 1_500 },
        })
      ).job!;
      await waitFor('a waiting reason', async () => (await c.getJob(job.id)).waitingReason !== '', 5_000);
      const done = await c.waitJob(job.id, 20_000);
      assert.equal(done.state, JobState.JOB_STATE_FAILED);
      assert.equal(done.error?.code, 'ENV_UNAVAILABLE');
      assert.equal(done.error?.errorClass, ErrorClass.ERROR_CLASS_ENV);
      assert.match(done.error!.message, /schedule-to-start timeout \(1500 ms\): no worker has env/);
      assert.equal(done.attempt, 0, 'it never started');
    } finally {
      await c.stop();
    }
  });
});
