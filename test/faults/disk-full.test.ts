/**
 * Fault: the Sentinel's data dir on a 40 MB tmpfs (tests run as root and may
 * mount one), and a plugin whose output (~100 MB of random bytes, which no
 * codec shrinks) cannot fit. The attempt fails as SINK_FULL, retryable,
 * naming the volume and its free space: never WORKER_LOST, never the
 * plugin's fault (the breaker, at threshold 1, does not pause it). The output
 * committed before stays readable, and the same plugin commits again once
 * there is room.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { JobState } from '../../services/gen/casparian/v1/types';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

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

  clusters.it('a 100 MB output on a 40 MB data dir fails as SINK_FULL (retryable, not the plugin\'s fault); earlier outputs stay readable', async () => {
    const c = clusters.track(new ProcCluster({ sentinelEnv: { CASPARIAN_BREAKER_THRESHOLD: '1' } }));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', c.dataDir]);
    try {
      c.port = await freePort();
      await c.startSentinel();
      await c.startWorker('w1');
      await c.publish('blobs', PLUGIN);

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
    } finally {
      await c.stopGracefully().catch(() => undefined);
      execFileSync('umount', ['-l', c.dataDir]);
    }
  });
});
