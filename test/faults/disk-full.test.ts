/**
 * Fault: the Sentinel's data dir on a 40 MB tmpfs (tests run as root and may
 * mount one), and a plugin whose output (~100 MB of random bytes, which no
 * codec shrinks) cannot fit. The attempt fails as SINK_FULL, retryable,
 * naming the volume and its free space: never WORKER_LOST, never the
 * plugin's fault (the breaker, at threshold 1, does not pause it). The output
 * committed before stays readable, and the same plugin commits again once
 * there is room. And the free-space floor (--min-free-bytes): below it nothing
 * is dispatched, and the reason is shown until space is freed: in GetJob,
 * `casparian workers`, the health name casparian.v1.Sentinel/dispatch and the
 * casparian_dispatch_paused metric, while the Sentinel itself stays SERVING.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobState } from '../../services/gen/casparian/v1/types';
import { DISPATCH_HEALTH } from '../../services/sentinel/sentinel';
import { HealthWatch } from '../helpers/health-watch';
import { freePort } from '../helpers/managed-proc';
import { sample, scrape } from '../helpers/metrics-scrape';
import { runCli, showCli } from '../helpers/cli-run';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { sleep, waitFor } from '../helpers/wait';

const PLUGIN = `
import os
import pyarrow as pa

def parse(path):
    with open(path) as f:
        size_mb = int(f.read().strip())
    for _ in range(size_mb // 10):
        yield pa.table({"blob": pa.array([os.urandom(10_000) for _ in range(1_000)], pa.binary())})
`;

describe('faults: the output volume is full', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  /** A Sentinel whose data dir is a 40 MB tmpfs, one worker, the plugin published; unmounted (lazily) afterwards. */
  async function onSmallDisk(sentinelEnv: Record<string, string>, body: (c: ProcCluster) => Promise<void>): Promise<void> {
    const c = clusters.track(new ProcCluster({ sentinelEnv }));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', c.dataDir]);
    try {
      c.port = await freePort();
      await c.startSentinel();
      await c.startWorker('w1');
      await c.publish('blobs', PLUGIN);
      await body(c);
    } finally {
      await c.stopGracefully().catch(() => undefined);
      execFileSync('umount', ['-l', c.dataDir]);
    }
  }

  clusters.it('a 100 MB output on a 40 MB data dir fails as SINK_FULL (retryable, not the plugin\'s fault); earlier outputs stay readable', async () => {
    // The free-space floor is off here: this test is about a commit that does not fit.
    await onSmallDisk({ CASPARIAN_BREAKER_THRESHOLD: '1', CASPARIAN_MIN_FREE_BYTES: '0' }, async (c) => {
      const small = await c.waitJob((await c.submit('blobs', c.input('small.txt', '10\n'))).id);
      assert.equal(small.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(small.error));

      const big = await c.waitJob((await c.submit('blobs', c.input('big.txt', '100\n'), { maxAttempts: 2 })).id, 180_000);
      assert.notEqual(big.state, JobState.JOB_STATE_SUCCEEDED);
      assert.equal(big.error?.code, 'SINK_FULL', JSON.stringify(big.error));
      assert.equal(big.error?.retryable, true);
      assert.equal(big.attempt, 2, 'retried as a transient failure');
      assert.match(big.error!.message, new RegExp(`the output volume is full: ${c.dataDir}/\\S+ has [0-9.]+ MB free of [0-9.]+ MB`));

      const again = await c.waitJob((await c.submit('blobs', c.input('small2.txt', '10\n'))).id);
      assert.equal(again.state, JobState.JOB_STATE_SUCCEEDED, `the plugin still runs (not paused by the breaker): ${JSON.stringify(again.error)}`);
      const first = await c.client.fetchOutput(small.id);
      assert.equal(first.info?.rows, 1_000, 'the earlier output is still readable');
    });
  });

  clusters.it('below --min-free-bytes nothing is dispatched, queued jobs and `casparian workers` say why, and dispatch resumes once space is freed', async () => {
    const metricsPort = await freePort();
    await onSmallDisk({ CASPARIAN_MIN_FREE_BYTES: String(30_000_000), CASPARIAN_METRICS_PORT: String(metricsPort) }, async (c) => {
      const dispatch = new HealthWatch(c.address, DISPATCH_HEALTH);
      const server = new HealthWatch(c.address, '');
      try {
        await waitFor(`${dispatch} to say SERVING`, () => dispatch.statuses.includes('SERVING'), 10_000, 50);
        assert.equal(sample(await scrape(metricsPort), 'casparian_dispatch_paused'), 0);
        await pauseAndResume(c, dispatch, metricsPort);
        await waitFor(`${dispatch} to say SERVING again`, () => dispatch.statuses.length === 3, 10_000, 50);
        assert.deepEqual(dispatch.statuses, ['SERVING', 'NOT_SERVING', 'SERVING'], String(dispatch));
        assert.deepEqual(server.statuses, ['SERVING'], `the Sentinel stays SERVING while dispatch is paused: ${server}`);
        assert.equal(sample(await scrape(metricsPort), 'casparian_dispatch_paused'), 0);
      } finally {
        dispatch.close();
        server.close();
      }
    });
  });

  /** Fill the disk below the floor, check every place that says so, free it, and see the held job run. */
  async function pauseAndResume(c: ProcCluster, dispatch: HealthWatch, metricsPort: number): Promise<void> {
    const first = await c.waitJob((await c.submit('blobs', c.input('one.txt', '0\n'))).id);
    assert.equal(first.state, JobState.JOB_STATE_SUCCEEDED, 'above the floor: dispatched');

    const junk = path.join(c.dataDir, 'junk.bin');
    fs.writeFileSync(junk, Buffer.alloc(15_000_000, 1));
    await waitFor('dispatch to pause', async () => (await c.client.listWorkers({})).dispatchPausedReason, 10_000, 200);
    const held = await c.submit('blobs', c.input('two.txt', '0\n'));
    await sleep(2_500);
    const queued = await c.getJob(held.id);
    assert.equal(queued.state, JobState.JOB_STATE_QUEUED);
    assert.match(queued.waitingReason, new RegExp(`dispatch paused: the data dir ${c.dataDir} has [0-9.]+ MB free, below --min-free-bytes \\(30\\.0 MB\\)`));
    const cli = await runCli(['workers', '--sentinel', c.address], { timeoutMs: 30_000 });
    assert.match(cli.stdout, /dispatch paused: the data dir/, showCli(cli));
    assert.deepEqual(dispatch.statuses, ['SERVING', 'NOT_SERVING'], String(dispatch));
    assert.equal(sample(await scrape(metricsPort), 'casparian_dispatch_paused'), 1);

    fs.rmSync(junk);
    const done = await c.waitJob(held.id, 30_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, 'dispatch resumed once space was freed');
    assert.equal((await c.client.listWorkers({})).dispatchPausedReason, '');
  }
});
