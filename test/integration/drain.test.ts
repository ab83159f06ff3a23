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
import { Cluster, publish, submit } from '../helpers/cluster';
import { REPO_ROOT, SHARED_LOCKFILE } from '../helpers/python-env';

const SLEEPY = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'sleepy.py'), 'utf8');
const LOCK = SHARED_LOCKFILE;

describe('integration: graceful drain', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-drain-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const input = (name: string, seconds: number): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, String(seconds));
    return f;
  };

  it('a draining worker finishes a short job, then hands a long one back to another worker', async () => {
    const c = await Cluster.start({ workers: [{ workerId: 'drainer' }] });
    try {
      await publish(c, 'sleepy', SLEEPY, LOCK);
      // Warm the env (first use may provision it) so the timings below are about the plugin.
      assert.equal((await c.waitJob((await submit(c, 'sleepy', input('warm', 0))).id, 240_000)).state, JobState.JOB_STATE_SUCCEEDED);

      const short = await submit(c, 'sleepy', input('short', 1.5));
      await c.waitFor(async () => (await c.client.getJob({ jobId: short.id, includeLogs: false })).job!.state === JobState.JOB_STATE_RUNNING, 30_000);
      await c.workers[0].shutdown(30_000);
      const s = (await c.client.getJob({ jobId: short.id, includeLogs: false })).job!;
      assert.equal(s.state, JobState.JOB_STATE_SUCCEEDED, 'the running job finished during the grace period');

      const second = await c.addWorker({ workerId: 'drainer-2' });
      const long = await submit(c, 'sleepy', input('long', 30));
      await c.waitFor(async () => (await c.client.getJob({ jobId: long.id, includeLogs: false })).job!.state === JobState.JOB_STATE_RUNNING, 30_000);
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
    const c = await Cluster.start({ workers: [{ envMode: 'strict', home: dir, workerId: 'strict-drain' }] });
    await publish(c, 'never', SLEEPY, '# never provisioned\npyarrow==25.0.1\n');
    const job = await submit(c, 'never', input('never', 0));
    const events: number[] = [];
    const watching = (async () => {
      for await (const ev of c.client.watchJob(job.id)) events.push(ev.job!.state);
    })();
    await c.waitFor(() => events.length > 0, 5_000);
    const stopping = c.sentinel.shutdown(8_000);
    await assert.rejects(
      c.sentinel.api.submitJob({ pluginName: 'never', pluginVersion: '', inputPath: input('late', 0), idempotencyKey: '', maxAttempts: 0, timeouts: undefined }),
      (e: { code: number; message: string }) => e.code === 14 && /shutting down/.test(e.message),
    );
    await stopping;
    await watching; // the WatchJob stream ended without an error
    assert.equal(c.sentinel.stoppedHow, 'graceful');
    await c.stop();
  });
});
