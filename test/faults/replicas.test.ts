/**
 * Faults of replicated Sentinels: two replicas on one PostgreSQL database and
 * one shared output root, workers that dial both (--sentinel A,B).
 *
 *  - kill -9 of one replica in the middle of a 300-job run: its workers move
 *    to the other, and every job succeeds exactly once, with one committed
 *    attempt dir each;
 *  - kill -9 of the replica that is committing a large output: nothing of
 *    that attempt is visible, the other replica commits the retry once, and
 *    the dead replica's leftovers are swept;
 *  - PostgreSQL restarted mid-run: both replicas report NOT_SERVING while it
 *    is away, recover without a restart, and lose no job.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { HealthWatch } from '../helpers/health-watch';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { testPg } from '../helpers/pg-server';
import { waitFor } from '../helpers/wait';

const ALL_FINAL = [JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED, JobState.JOB_STATE_DEAD_LETTER];

/** Every job of `plugin`, through replica `via`. */
async function jobsOf(c: ProcCluster, via: number, plugin: string): Promise<Job[]> {
  const out: Job[] = [];
  let pageToken = '';
  do {
    const res = await c.replicaClient(via).listJobs({ state: JobState.JOB_STATE_UNSPECIFIED, pluginName: plugin, pageSize: 1000, pageToken });
    out.push(...res.jobs);
    pageToken = res.nextPageToken;
  } while (pageToken);
  return out;
}

describe('faults: Sentinel replicas on PostgreSQL', function () {
  this.timeout(900_000);
  const clusters = useClusters();

  clusters.it('kill -9 of one replica mid-run: its workers reconnect to the other, 300 jobs succeed exactly once', async () => {
    const c = clusters.track(await ProcCluster.start({ replicas: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    const [a, b] = [c.replicaAddress(0), c.replicaAddress(1)];
    // Two workers start on replica A, one on B.
    await c.startWorker('w1', { slots: 2, sentinel: `${a},${b}` });
    await c.startWorker('w2', { slots: 2, sentinel: `${a},${b}` });
    await c.startWorker('w3', { slots: 2, sentinel: `${b},${a}` });
    // Any replica lists every worker, with the replica holding its stream.
    const holders = async (via: number) => new Map((await c.replicaClient(via).listWorkers({})).workers.map((w) => [w.workerId, w.sentinelReplica]));
    const before = await waitFor('each replica to list all three workers', async () => {
      const [ha, hb] = [await holders(0), await holders(1)];
      return ha.size === 3 && JSON.stringify([...ha].sort()) === JSON.stringify([...hb].sort()) ? ha : undefined;
    }, 15_000, 100);
    assert.ok(before.get('w1') && before.get('w1') === before.get('w2'), JSON.stringify([...before]));
    assert.ok(before.get('w3') && before.get('w3') !== before.get('w1'), JSON.stringify([...before]));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    // 300 jobs, half submitted through each replica.
    const files = Array.from({ length: 300 }, (_, i) => writeCsv(c.inputDir, `in-${i}.csv`, 2, i));
    const viaA = await c.replicaClient(0).submitJobs({ pluginName: 'values', inputPaths: files.slice(0, 150), maxAttempts: 5 });
    const viaB = await c.replicaClient(1).submitJobs({ pluginName: 'values', inputPaths: files.slice(150), maxAttempts: 5 });
    const ids = [...viaA.jobIds, ...viaB.jobIds];
    assert.equal(new Set(ids).size, 300);

    await waitFor('a third of the jobs to succeed', async () => (await jobsOf(c, 1, 'values')).filter((j) => j.state === JobState.JOB_STATE_SUCCEEDED).length >= 100, 300_000, 200);
    await c.replica(0)!.kill9();
    // A's workers move to B.
    await waitFor('w1 and w2 to reconnect to replica B', async () => {
      const now = await holders(1);
      return ['w1', 'w2', 'w3'].every((w) => now.get(w) === before.get('w3'));
    }, 60_000, 200);

    const jobs = await waitFor('every job to finish', async () => {
      const all = (await jobsOf(c, 1, 'values')).filter((j) => ids.includes(j.id));
      return all.length === 300 && all.every((j) => ALL_FINAL.includes(j.state)) ? all : undefined;
    }, 600_000, 500);
    const bad = jobs.filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(bad.map((j) => `${j.id} ${JobState[j.state]} ${JSON.stringify(j.error)}`), []);
    for (const j of jobs) assert.deepEqual(c.attemptDirs(j.id), [`attempt-${j.attempt}`], `job ${j.id}: exactly one committed attempt dir, the last`);
    // Exactly once: each job's output has its input's two rows, and the dataset has 2 rows per job (600 + the warm-up's 3).
    const rows = await c.replicaClient(1).query({ sql: 'select count(*) as n, count(distinct _cf_job_id) as jobs from "default"' });
    const t = tableFromIPC(rows.ipc);
    assert.equal(Number(t.getChild('jobs')!.get(0)), 301);
    assert.equal(Number(t.getChild('n')!.get(0)), 603);
    const retried = jobs.filter((j) => j.attempt > 1).length;
    process.stderr.write(`      ${retried} of 300 jobs needed a second attempt after the kill\n`);
  });

  clusters.it('kill -9 of the replica committing a large output: nothing half-committed; the retry commits once on the other', async () => {
    const c = clusters.track(await ProcCluster.start({ replicas: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    const [a, b] = [c.replicaAddress(0), c.replicaAddress(1)];
    await c.startWorker('w1', { slots: 2, sentinel: `${a},${b}` });
    await c.publish('values', faultPlugin('values.py'));
    await c.publish('stream_big', faultPlugin('stream_big.py'));
    await warmUp(c);

    const file = path.join(c.inputDir, 'big.txt');
    fs.writeFileSync(file, 'stream\n');
    const submitted = await c.replicaClient(1).submitJob({ pluginName: 'stream_big', pluginVersion: '', inputPath: file, idempotencyKey: '', maxAttempts: 3 });
    const id = submitted.job!.id;
    const staged = await waitFor(
      'the output being written in the shared staging dir',
      () => {
        const dir = c.stagingDirs().find((d) => d.startsWith(`${id}.attempt-1`));
        return dir && fs.readdirSync(path.join(c.outputRoot, 'staging', dir)).includes('default.parquet') ? dir : undefined;
      },
      120_000,
      20,
    );
    await c.replica(0)!.kill9();
    assert.deepEqual(c.attemptDirs(id), [], 'nothing of the attempt is visible under outputs/');

    const job = await waitFor('the job to finish on replica B', async () => {
      const j = (await c.replicaClient(1).getJob({ jobId: id, includeLogs: false })).job!;
      return ALL_FINAL.includes(j.state) ? j : undefined;
    }, 300_000, 200);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.ok(job.attempt >= 2, `attempt ${job.attempt}`);
    assert.deepEqual(c.attemptDirs(id), [`attempt-${job.attempt}`], 'exactly one committed attempt, the last');
    await waitFor('the dead replica\'s half-written attempt to be swept by replica B', () => !c.stagingDirs().includes(staged), 30_000, 200);
    const out = await c.replicaClient(1).fetchOutput(id); // a commit of replica B, on the shared root
    assert.equal(out.info?.rows, 6 * 200_000);
  });

  clusters.it('PostgreSQL restarted mid-run: NOT_SERVING while it is away, back without a restart, no job lost', async () => {
    const pg = await testPg();
    if (!pg.canRestart) {
      // An external server (CASPARIAN_TEST_PG_URL) cannot be restarted from here; the private one always can.
      assert.ok(process.env.CASPARIAN_TEST_PG_URL, 'only an external server may be impossible to restart');
      return;
    }
    const c = clusters.track(await ProcCluster.start({ replicas: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    const [a, b] = [c.replicaAddress(0), c.replicaAddress(1)];
    await c.startWorker('w1', { slots: 2, sentinel: `${a},${b}` });
    await c.startWorker('w2', { slots: 2, sentinel: `${b},${a}` });
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);
    const watches = [a, b].map((addr) => new HealthWatch(addr, 'casparian.v1.Sentinel'));
    try {
      const files = Array.from({ length: 60 }, (_, i) => writeCsv(c.inputDir, `in-${i}.csv`, 2, i, ['# sleep=0.2']));
      const batch = await c.replicaClient(0).submitJobs({ pluginName: 'values', inputPaths: files, maxAttempts: 10 });
      await waitFor('some jobs to succeed', async () => (await jobsOf(c, 0, 'values')).filter((j) => j.state === JobState.JOB_STATE_SUCCEEDED).length >= 10, 120_000, 100);

      await pg.stop();
      await waitFor('both replicas to report NOT_SERVING', () => watches.every((w) => w.statuses.at(-1) === 'NOT_SERVING'), 30_000, 100);
      await new Promise((r) => setTimeout(r, 3_000)); // away for a while: leases expire meanwhile
      await pg.start();
      await waitFor('both replicas to report SERVING again', () => watches.every((w) => w.statuses.at(-1) === 'SERVING'), 60_000, 100);
      assert.ok(c.replica(0)!.alive && c.replica(1)!.alive, 'no replica exited');

      const jobs = await waitFor('every job to finish', async () => {
        const all = (await jobsOf(c, 1, 'values')).filter((j) => batch.jobIds.includes(j.id));
        return all.length === 60 && all.every((j) => ALL_FINAL.includes(j.state)) ? all : undefined;
      }, 300_000, 500);
      assert.deepEqual(jobs.filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED).map((j) => `${j.id} ${JobState[j.state]} ${JSON.stringify(j.error)}`), []);
      // A commit cut off by the outage left its dir until the database could say it never committed (then removed).
      await waitFor('one committed attempt dir per job', () => jobs.every((j) => JSON.stringify(c.attemptDirs(j.id)) === JSON.stringify([`attempt-${j.attempt}`])), 20_000, 200).catch(() => undefined);
      for (const j of jobs) assert.deepEqual(c.attemptDirs(j.id), [`attempt-${j.attempt}`], `job ${j.id}: one committed attempt dir`);
      for (const w of watches) assert.deepEqual(w.statuses.filter((s, i, all) => i === 0 || all[i - 1] !== s), ['SERVING', 'NOT_SERVING', 'SERVING'], w.toString());
    } finally {
      for (const w of watches) w.close();
    }
  });
});
