/**
 * Per-attempt caps on a real Sentinel process: Arrow bytes
 * (CASPARIAN_MAX_OUTPUT_BYTES) and log bytes (CASPARIAN_MAX_LOG_BYTES).
 */
import { strict as assert } from 'node:assert';
import { JobState } from '../../services/gen/casparian/v1/types';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

const PLUGIN = `
import os
import casparian
import pyarrow as pa

def parse(path):
    with open(path) as f:
        kind, n = f.read().split()
    n = int(n)
    if kind == "logs":
        for i in range(n):
            casparian.log("x" * 90 + f" {i:05d}")
        return pa.table({"n": [n]})
    return pa.table({"blob": pa.array([os.urandom(1000) for _ in range(n)], pa.binary())})
`;

describe('integration: per-attempt caps (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('an attempt over the output cap fails as INVALID_OUTPUT with nothing committed; logs over the log cap are cut with one note', async () => {
    const c = clusters.track(
      await ProcCluster.start({ workers: ['w1'], sentinelEnv: { CASPARIAN_MAX_OUTPUT_BYTES: String(2_000_000), CASPARIAN_MAX_LOG_BYTES: '5000' } }),
    );
    await c.publish('capped', PLUGIN);

    const fits = await c.waitJob((await c.submit('capped', c.input('fits.txt', 'blob 1000'))).id);
    assert.equal(fits.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(fits.error));
    const big = await c.waitJob((await c.submit('capped', c.input('big.txt', 'blob 5000'), { maxAttempts: 3 })).id);
    assert.equal(big.state, JobState.JOB_STATE_FAILED);
    assert.equal(big.error?.code, 'INVALID_OUTPUT');
    assert.equal(big.attempt, 1, 'not retried');
    assert.match(big.error!.message, /at most 2000000 bytes of Arrow \(CASPARIAN_MAX_OUTPUT_BYTES\)/);
    assert.deepEqual(c.attemptDirs(big.id), [], 'nothing committed');

    const chatty = await c.waitJob((await c.submit('capped', c.input('logs.txt', 'logs 500'))).id);
    assert.equal(chatty.state, JobState.JOB_STATE_SUCCEEDED);
    const logs = (await c.client.getJob({ jobId: chatty.id, includeLogs: true })).logs.filter((l) => l.source !== 'env');
    const bytes = logs.reduce((s, l) => s + Buffer.byteLength(l.message), 0);
    assert.ok(logs.length > 10 && logs.length < 100, `${logs.length} lines kept`);
    assert.ok(bytes < 5000 + 200, `${bytes} bytes kept`);
    assert.match(logs[logs.length - 1].message, /log truncated: this attempt logged more than 5000 bytes/);
  });
});
