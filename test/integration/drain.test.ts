/**
 * Graceful drain. Worker: finishes running jobs within its grace period, else
 * hands them back (retryable worker_lost) for another worker. Sentinel: ends
 * its streams cleanly so the server stops without being forced.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobState, ErrorClass } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';
import { REPO_ROOT, SHARED_LOCKFILE } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';

const SLEEPY = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'sleepy.py'), 'utf8');
const LOCK = SHARED_LOCKFILE;

describe('integration: graceful drain', function () {
  this.timeout(300_000);
  let home: string;
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-drain-home-'));
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));
  /** An input for sleepy.py: it sleeps that many seconds. */
  const input = (c: Cluster, name: string, seconds: number): string => c.input(name, String(seconds));

  it('a draining worker finishes a short job, then hands a long one back to another worker', async () => {
    const c = await Cluster.start({ workers: [{ workerId: 'drainer' }] });
    try {
      await c.publish('sleepy', SLEEPY, { lockfile: LOCK });
      // Warm the env (first use may provision it) so the timings below are about the plugin.
      assert.equal((await c.waitJob((await c.submit('sleepy', input(c, 'warm', 0))).id, 240_000)).state, JobState.JOB_STATE_SUCCEEDED);

      const short = await c.submit('sleepy', input(c, 'short', 1.5));
      await waitFor('the short job to run', async () => (await c.getJob(short.id)).state === JobState.JOB_STATE_RUNNING, 30_000);
      await c.workers[0].shutdown(30_000);
      const s = (await c.client.getJob({ jobId: short.id, includeLogs: false })).job!;
      assert.equal(s.state, JobState.JOB_STATE_SUCCEEDED, 'the running job finished during the grace period');

      const second = await c.addWorker({ workerId: 'drainer-2' });
      const long = await c.submit('sleepy', input(c, 'long', 30));
      await waitFor('the long job to run', async () => (await c.getJob(long.id)).state === JobState.JOB_STATE_RUNNING, 30_000);
      await second.shutdown(300);
      const handed = (await c.client.getJob({ jobId: long.id, includeLogs: false })).job!;
      assert.equal(handed.state, JobState.JOB_STATE_QUEUED, 'handed back to the queue');
      assert.equal(handed.error?.errorClass, ErrorClass.ERROR_CLASS_WORKER_LOST);
      assert.match(handed.error!.message, /shut down before the attempt finished/);
      assert.equal(second.activeCount, 0);
    } finally {
      await c.stop();
    }
  });

  it('a draining Sentinel refuses submissions, ends streams cleanly and is not forced', async () => {
    const c = await Cluster.start({ workers: [{ envMode: 'strict', home, workerId: 'strict-drain' }] });
    await c.publish('never', SLEEPY, { lockfile: '# never provisioned\npyarrow==25.0.1\n' });
    const job = await c.submit('never', input(c, 'never', 0));
    const events: number[] = [];
    const watching = (async () => {
      for await (const ev of c.client.watchJob(job.id)) events.push(ev.job!.state);
    })();
    await waitFor('a WatchJob event', () => events.length > 0, 5_000);
    const stopping = c.sentinel.shutdown(8_000);
    await assert.rejects(
      c.sentinel.api.submitJob({ pluginName: 'never', pluginVersion: '', inputPath: input(c, 'late', 0), idempotencyKey: '', maxAttempts: 0, timeouts: undefined, priority: 0 }),
      (e: { code: number; message: string }) => e.code === 14 && /shutting down/.test(e.message),
    );
    await stopping;
    await watching; // the WatchJob stream ended without an error
    assert.equal(c.sentinel.stoppedHow, 'graceful');
    await c.stop();
  });
});
