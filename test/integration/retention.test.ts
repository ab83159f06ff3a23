/**
 * Retention on real processes: `casparian purge` removes finished jobs older
 * than the cutoff with their logs, rows and output files; a dry run removes
 * nothing; newer jobs and their outputs stay; unfinished states are refused.
 * And the Sentinel's automatic retention (--retain-seconds).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { checkValues, faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { sleep, waitFor } from '../helpers/wait';

describe('integration: retention with casparian purge (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('purges finished jobs older than the cutoff, files included; keeps newer ones; dry run and bad states', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'] }));
    await c.publish('values', faultPlugin('values.py'));
    const old = [];
    for (let i = 0; i < 3; i++) old.push(await c.waitJob((await c.submit('values', writeCsv(c.inputDir, `old-${i}.csv`, 2, i))).id));
    assert.ok(old.every((j) => j.state === JobState.JOB_STATE_SUCCEEDED));
    const purge = (...args: string[]) => runCli(['purge', '--sentinel', c.address, ...args], { timeoutMs: 30_000 });
    const bad = await purge('--older-than', '2s', '--state', 'running');
    assert.equal(bad.code, 1, showCli(bad));
    assert.match(bad.stderr, /INVALID_ARGUMENT: states: only final states can be purged/);

    // The old jobs are at least 16 s old, the fresh one has 15 s before it is old enough too:
    // room for the CLI runs below on a loaded machine.
    await sleep(16_000);
    const fresh = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'fresh.csv', 3, 9))).id);
    const dry = await purge('--older-than', '15s', '--dry-run');
    assert.equal(dry.code, 0, showCli(dry));
    assert.match(dry.stdout, /^would purge 3 finished jobs older than 15s: \d+ log lines, 3 output files, [0-9.]+ MB/);
    assert.ok(old.every((j) => c.attemptDirs(j.id).length === 1), 'a dry run removes nothing');

    const real = await purge('--older-than', '15s', '--json');
    assert.equal(real.code, 0, showCli(real));
    // One PurgeJobsResponse (the pages summed), canonical proto3 JSON: output_bytes (uint64) as a string.
    const summed = JSON.parse(real.stdout) as { jobs: number; outputFiles: number; outputBytes: string };
    assert.deepEqual([summed.jobs, summed.outputFiles, typeof summed.outputBytes], [3, 3, 'string']);
    for (const j of old) {
      await assert.rejects(c.client.getJob({ jobId: j.id, includeLogs: true }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      assert.equal(fs.existsSync(path.join(c.dataDir, 'outputs', j.id)), false, 'its output files are gone');
    }
    assert.equal(await checkValues(c, fresh.id, 3, 9), '', 'the newer job and its output stay');
    const again = await purge('--older-than', '15s');
    assert.match(again.stdout, /^purged 0 finished jobs/);
  });

  clusters.it('automatic retention (--retain-seconds) purges finished jobs by itself, never a running one', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], sentinelEnv: { CASPARIAN_RETAIN_SECONDS: '1', CASPARIAN_RETENTION_EVERY_MS: '300' } }));
    await c.publish('values', faultPlugin('values.py'));
    const quick = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'quick.csv', 2, 1))).id);
    assert.equal(quick.state, JobState.JOB_STATE_SUCCEEDED);
    const slowInput = writeCsv(c.inputDir, 'slow.csv', 2, 2, ['# sleep=4']);
    const slow = await c.submit('values', slowInput);
    // Follow it on WatchJob from the start: its final state arrives as it settles, before retention could take it.
    const finalState = (async () => {
      let last = JobState.JOB_STATE_UNSPECIFIED;
      for await (const m of c.client.watchJob(slow.id)) last = m.job?.state ?? last;
      return last;
    })();
    await waitFor('the quick job to be purged', () => c.client.getJob({ jobId: quick.id, includeLogs: false }).then(() => false, (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND), 15_000, 200);
    assert.equal(fs.existsSync(path.join(c.dataDir, 'outputs', quick.id)), false);
    await waitFor('the slow job to run', () => fs.existsSync(`${slowInput}.runs`), 30_000, 50);
    await sleep(2_000); // running for longer than the retention age
    assert.notEqual((await c.getJob(slow.id)).state, JobState.JOB_STATE_SUCCEEDED, 'still running');
    assert.equal(await finalState, JobState.JOB_STATE_SUCCEEDED, 'a running job is never purged');
  });
});
