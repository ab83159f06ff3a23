/**
 * Fault: the Sentinel is killed with SIGKILL while an output is being
 * converted to Parquet (the Parquet helper writes it as the bytes arrive).
 * Nothing is visible under outputs/; the helper goes with the Sentinel (no
 * stray process); the restarted Sentinel removes the staged leftovers (at
 * startup on SQLite; on PostgreSQL, where replicas may share the output
 * root, once the attempt's lease has expired), and the retried job commits
 * exactly one, complete attempt.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { JobState } from '../../services/gen/casparian/v1/types';
import { faultPlugin, warmUp } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { processesUnder } from '../helpers/proc-inspect';
import { clusterStore } from '../helpers/stores';
import { waitFor } from '../helpers/wait';

const BATCHES = 6;
const ROWS = 200_000;

describe('faults: Sentinel killed during a commit', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('kill -9 mid-conversion: nothing half-visible, the helper goes too, restart cleans up, the retry commits once', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.publish('values', faultPlugin('values.py'));
    await c.publish('stream_big', faultPlugin('stream_big.py'));
    await warmUp(c);
    const helpers = () => processesUnder(c.root).filter((p) => p.cmdline.includes('parquet_helper.py'));
    assert.equal(helpers().length, 1, 'the Sentinel runs its Parquet helper');

    const file = path.join(c.inputDir, 'big.txt');
    fs.writeFileSync(file, 'stream\n');
    const submitted = await c.submit('stream_big', file, { maxAttempts: 3 });
    await waitFor('two batches streamed', () => fs.existsSync(`${file}.batches`) && fs.readFileSync(`${file}.batches`, 'utf8').trim().split('\n').length >= 2, 60_000, 50);
    const staged = await waitFor(
      'the output being written in the staging dir',
      () => {
        const dir = c.stagingDirs().find((d) => d.startsWith(`${submitted.id}.attempt-1`));
        return dir && fs.readdirSync(path.join(c.outputRoot, 'staging', dir)).includes('default.parquet') ? dir : undefined;
      },
      10_000,
      20,
    );

    // SIGKILL to the Sentinel alone (not its process group, as the OOM killer would):
    // its helper must notice by itself.
    c.sentinel!.signal('SIGKILL');
    await c.sentinel!.waitExit(10_000);
    assert.deepEqual(c.attemptDirs(submitted.id), [], 'nothing of the attempt is visible under outputs/');
    assert.ok(c.stagingDirs().includes(staged), 'the half-written attempt is left in staging/');
    await waitFor('the Parquet helper to exit with its Sentinel', () => helpers().length === 0, 10_000, 50);

    await c.startSentinel();
    if (clusterStore() === 'sqlite') {
      assert.ok(!c.stagingDirs().includes(staged), 'the restarted Sentinel removed the leftover at startup');
    } else {
      // On PostgreSQL another replica might be receiving that attempt: its dir goes once its lease has expired.
      await waitFor('the leftover to be swept once its lease expired', () => !c.stagingDirs().includes(staged), 20_000, 100);
    }

    const job = await c.waitJob(submitted.id, 180_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.ok(job.attempt >= 2, `attempt ${job.attempt}`);
    assert.deepEqual(c.attemptDirs(job.id), [`attempt-${job.attempt}`], 'exactly one committed attempt, the last');
    await waitFor('the staging area to be empty', () => c.stagingDirs().length === 0, 10_000);
    const { ipc, info } = await c.client.fetchOutput(job.id);
    assert.equal(info?.rows, BATCHES * ROWS);
    const t = tableFromIPC(ipc);
    assert.equal(t.numRows, BATCHES * ROWS);
    for (const i of [0, ROWS, BATCHES * ROWS - 1]) assert.equal(t.getChild('value')!.get(i), i * 0.5);
  });
});
