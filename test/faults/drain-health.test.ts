/**
 * SIGTERM drains a real process, and its health says so: a grpc.health.v1
 * Health.Watch opened before the signal sees SERVING, then NOT_SERVING while
 * the process drains, and the process then exits 0. Checked for the Sentinel
 * process and for a worker process's own gRPC server (--worker-port), the
 * latter while it still finishes a running job. And a worker's readiness:
 * casparian.v1.Worker is SERVING only while the worker is connected to the
 * Sentinel with a slot free, while "" (what a liveness probe asks) stays
 * SERVING through a Sentinel outage.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { HealthWatch } from '../helpers/health-watch';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { Fatal, waitFor } from '../helpers/wait';

describe('faults: health while draining on SIGTERM (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();
  const watches: HealthWatch[] = [];
  afterEach(() => watches.splice(0).forEach((w) => w.close()));

  function watch(address: string, service: string): HealthWatch {
    const w = new HealthWatch(address, service);
    watches.push(w);
    return w;
  }

  async function sees(w: HealthWatch, status: string): Promise<void> {
    await waitFor(
      `${w} to report ${status}`,
      () => {
        if (w.statuses.includes(status)) return true;
        if (w.ended) throw new Fatal(`the watch ended without ${status}: ${w}`);
        return false;
      },
      20_000,
      20,
    );
  }

  clusters.it('the Sentinel process: SERVING, NOT_SERVING from SIGTERM on while it drains, then exit code 0', async () => {
    const c = clusters.track(await ProcCluster.start());
    const sentinel = c.sentinel!;
    const server = watch(c.address, '');
    const api = watch(c.address, 'casparian.v1.Sentinel');
    await sees(server, 'SERVING');
    await sees(api, 'SERVING');

    sentinel.signal('SIGTERM');
    await sees(server, 'NOT_SERVING');
    await sees(api, 'NOT_SERVING');
    assert.ok(sentinel.alive, 'NOT_SERVING is reported while the process drains, not only at its exit');
    server.close();
    api.close();
    assert.deepEqual(await sentinel.waitExit(20_000), { code: 0, signal: null }, 'the drained Sentinel exits 0');
    assert.deepEqual(server.statuses, ['SERVING', 'NOT_SERVING']);
    assert.deepEqual(api.statuses, ['SERVING', 'NOT_SERVING']);
  });

  clusters.it("a worker process's own server: NOT_SERVING from SIGTERM on while its job finishes, then exit code 0", async () => {
    const c = clusters.track(await ProcCluster.start());
    await c.publish('values', faultPlugin('values.py'));
    const port = await freePort();
    const w1 = await c.startWorker('w1', { port });
    await warmUp(c);
    const address = `127.0.0.1:${port}`;
    const server = watch(address, '');
    const api = watch(address, 'casparian.v1.Worker');
    await sees(server, 'SERVING');
    await sees(api, 'SERVING');

    const file = writeCsv(c.inputDir, 'four-seconds.csv', 4, 1, ['# sleep=4']);
    const job = await c.submit('values', file);
    await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    w1.signal('SIGTERM');
    await sees(server, 'NOT_SERVING');
    await sees(api, 'NOT_SERVING');
    assert.equal((await c.getJob(job.id)).state, JobState.JOB_STATE_RUNNING, 'NOT_SERVING while the job still runs on the draining worker');
    assert.ok(w1.alive);
    server.close();
    api.close();
    assert.deepEqual(await w1.waitExit(30_000), { code: 0, signal: null }, 'the drained worker exits 0');
    const done = await c.waitJob(job.id, 30_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
    assert.equal(done.workerId, 'w1', 'the job finished on the draining worker');
    assert.deepEqual(server.statuses, ['SERVING', 'NOT_SERVING']);
    assert.deepEqual(api.statuses, ['SERVING', 'NOT_SERVING']);
  });

  clusters.it('a worker process: casparian.v1.Worker SERVING only while connected with a free slot; "" stays SERVING when the Sentinel dies', async () => {
    const c = clusters.track(await ProcCluster.start());
    await c.publish('values', faultPlugin('values.py'));
    const port = await freePort();
    await c.startWorker('w1', { port, slots: 1 });
    await warmUp(c);
    const address = `127.0.0.1:${port}`;
    const server = watch(address, '');
    const ready = watch(address, 'casparian.v1.Worker');
    await sees(server, 'SERVING');
    await sees(ready, 'SERVING');

    const file = writeCsv(c.inputDir, 'two-seconds.csv', 4, 1, ['# sleep=2']);
    const job = await c.submit('values', file);
    await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    assert.deepEqual(ready.statuses, ['SERVING', 'NOT_SERVING'], `its one slot is busy: ${ready}`);
    assert.equal((await c.waitJob(job.id, 30_000)).state, JobState.JOB_STATE_SUCCEEDED);
    await waitFor(`${ready} to free up`, () => ready.statuses.length === 3, 10_000, 20);
    assert.deepEqual(ready.statuses, ['SERVING', 'NOT_SERVING', 'SERVING']);

    await c.sentinel!.kill9();
    await waitFor(`${ready} to see the Sentinel gone`, () => ready.statuses.length === 4, 20_000, 20);
    assert.deepEqual(ready.statuses.slice(3), ['NOT_SERVING'], String(ready));
    await c.startSentinel();
    await waitFor(`${ready} to see the worker reconnected`, () => ready.statuses.length === 5, 30_000, 20);
    assert.deepEqual(ready.statuses.slice(3), ['NOT_SERVING', 'SERVING'], String(ready));
    assert.deepEqual(server.statuses, ['SERVING'], `the worker itself was up all along: ${server}`);
  });
});
