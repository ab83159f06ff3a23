/**
 * Fault: a worker disappears in the middle of a Conclude stream (the plugin
 * streams a large output in several batches; the worker is killed after some
 * of them reached the Sentinel). Nothing is committed for that attempt; the
 * job is retried elsewhere and its output is complete and correct.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { JobState } from '../../services/gen/casparian/v1/types';
import { faultPlugin, warmUp } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

const BATCHES = 6;
const ROWS = 200_000;

describe('faults: worker disconnects mid-Conclude', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('kill -9 while the output streams: nothing committed for that attempt, retried and succeeds elsewhere', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await c.publish('stream_big', faultPlugin('stream_big.py'));
    await warmUp(c);

    const file = path.join(c.inputDir, 'big.txt');
    fs.writeFileSync(file, 'stream\n');
    const submitted = await c.submit('stream_big', file, { maxAttempts: 3 });
    await waitFor('two batches streamed', () => fs.existsSync(`${file}.batches`) && fs.readFileSync(`${file}.batches`, 'utf8').trim().split('\n').length >= 2, 60_000, 50);
    // Some of the attempt's bytes must already have reached the Sentinel: the stream is really
    // half-way. Its writer then has a file in the staging dir: default.parquet being written by
    // the pyarrow helper, or default.arrows for the parquet-wasm writer.
    const staged = await waitFor(
      'bytes of attempt 1 staged on the Sentinel',
      () => {
        const dir = c.stagingDirs().find((d) => d.startsWith(`${submitted.id}.attempt-1`));
        if (!dir) return undefined;
        const files = fs.readdirSync(path.join(c.dataDir, 'staging', dir)).filter((f) => f.startsWith('default.'));
        return files.length ? files.join(',') : undefined;
      },
      10_000,
      20,
    );
    const before = await c.getJob(submitted.id);
    assert.equal(before.state, JobState.JOB_STATE_RUNNING);
    assert.equal(before.attempt, 1);
    await c.worker('w1').kill9();
    await c.startWorker('w2');

    const job = await c.waitJob(submitted.id, 120_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.ok(job.attempt >= 2, `attempt ${job.attempt}`);
    assert.equal(job.workerId, 'w2');
    assert.deepEqual(c.attemptDirs(job.id), [`attempt-${job.attempt}`], 'only the final attempt is committed');
    assert.ok(!c.stagingDirs().some((d) => d.startsWith(`${job.id}.attempt-1`)), 'the staged bytes of attempt 1 are discarded');

    const { ipc, info } = await c.client.fetchOutput(job.id);
    assert.equal(info?.rows, BATCHES * ROWS);
    const t = tableFromIPC(ipc);
    assert.equal(t.numRows, BATCHES * ROWS);
    const ids = t.getChild('id')!;
    const values = t.getChild('value')!;
    for (const i of [0, 1, ROWS - 1, ROWS, 3 * ROWS + 17, BATCHES * ROWS - 1]) {
      assert.equal(Number(ids.get(i)), i);
      assert.equal(values.get(i), i * 0.5);
    }
    process.stderr.write(`      attempt 1 had ${staged} staged when the worker died\n`);
  });
});
