/**
 * A worker given several Sentinel addresses (real processes on loopback):
 * it passes over an address where nothing listens, and when the Sentinel it
 * is connected to is killed with SIGKILL it moves its Dispatch stream to the
 * next one, runs that one's jobs (their Conclude goes there too), and its
 * readiness (casparian.v1.Worker) is NOT_SERVING in between and SERVING
 * again after.
 *
 * The first two tests use two independent Sentinels, each with its own data
 * dir, which is all the worker's failover needs: it holds no state of a
 * Sentinel's. The last one runs real replicas on one PostgreSQL database and
 * output root: a job whose attempt's Conclude dies with its replica runs
 * again through the other one (the lease decides; the Conclude is not
 * resent), and `casparian submit --wait` given both addresses follows it
 * there.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { HealthWatch } from '../helpers/health-watch';
import { freePort, type ManagedProc } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { Fatal, waitFor } from '../helpers/wait';

/** The worker's JSON log lines with message `msg`. */
function logLines(p: ManagedProc, msg: string): Record<string, unknown>[] {
  return p
    .tail(100_000)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

describe('faults: a worker fails over between Sentinel addresses', function () {
  this.timeout(300_000);
  const clusters = useClusters();
  const watches: HealthWatch[] = [];
  afterEach(() => watches.splice(0).forEach((w) => w.close()));

  clusters.it('given DEAD,LIVE it connects to LIVE, says so, and runs a job', async () => {
    const live = clusters.track(await ProcCluster.start());
    const dead = `127.0.0.1:${await freePort()}`;
    const w1 = await live.startWorker('w1', { sentinel: `${dead},${live.address}` });
    await live.publish('values', faultPlugin('values.py'));
    const file = writeCsv(live.inputDir, 'live.csv', 5, 3);
    const job = await live.waitJob((await live.submit('values', file)).id, 600_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.workerId, 'w1');
    assert.equal(await checkValues(live, job.id, 5, 3), '');

    const down = logLines(w1, 'dispatch stream down; reconnecting');
    assert.equal(down[0]?.sentinel, dead, 'the dead address was tried first');
    assert.equal(down[0]?.next, live.address);
    assert.deepEqual(
      logLines(w1, 'connected to sentinel').map((l) => l.sentinel),
      [live.address],
    );
  });

  clusters.it('given A,B: kill -9 A, and it reconnects to B, runs a job B dispatches, and is ready again', async () => {
    const a = clusters.track(await ProcCluster.start());
    const b = clusters.track(await ProcCluster.start());
    const port = await freePort();
    const w1 = await a.startWorker('w1', { sentinel: `${a.address},${b.address}`, port, slots: 1 });
    const ready = new HealthWatch(`127.0.0.1:${port}`, 'casparian.v1.Worker');
    watches.push(ready);
    await a.publish('values', faultPlugin('values.py'));
    await b.publish('values', faultPlugin('values.py'));
    const warm = await warmUp(a);
    assert.equal(warm.workerId, 'w1');
    const settled = (from: number, expected: string[]) => () => {
      if (ready.ended) throw new Fatal(`the watch ended: ${ready}`);
      return JSON.stringify(ready.statuses.slice(from)) === JSON.stringify(expected);
    };
    await waitFor(`${ready} to be SERVING, the warm-up done`, () => ready.statuses.at(-1) === 'SERVING', 20_000, 20);
    assert.deepEqual((await b.client.listWorkers({})).workers, [], 'B has not seen the worker yet');

    const before = ready.statuses.length;
    await a.sentinel!.kill9();
    await waitFor('B to list the worker', async () => (await b.client.listWorkers({})).workers.some((w) => w.workerId === 'w1'), 30_000, 50);
    await waitFor(`${ready} to go NOT_SERVING, then SERVING again`, settled(before, ['NOT_SERVING', 'SERVING']), 20_000, 20);

    const file = writeCsv(b.inputDir, 'on-b.csv', 4, 7);
    const job = await b.waitJob((await b.submit('values', file)).id, 120_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.workerId, 'w1');
    assert.equal(await checkValues(b, job.id, 4, 7), '', "the job's Conclude reached B: its output is committed there");
    await waitFor(`${ready} to be SERVING after the job`, () => ready.statuses.at(-1) === 'SERVING', 10_000, 20);

    assert.deepEqual(
      logLines(w1, 'connected to sentinel').map((l) => l.sentinel),
      [a.address, b.address],
    );
    const down = logLines(w1, 'dispatch stream down; reconnecting');
    assert.deepEqual([down[0]?.sentinel, down[0]?.next], [a.address, b.address], 'the worker left A for B');
  });

  clusters.it('replicas on PostgreSQL: kill -9 of the replica holding a running attempt; it runs again via the other, and submit --wait follows it there', async () => {
    const c = clusters.track(await ProcCluster.start({ replicas: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    const [a, b] = [c.replicaAddress(0), c.replicaAddress(1)];
    const w1 = await c.startWorker('w1', { slots: 1, sentinel: `${a},${b}` });
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);

    const file = writeCsv(c.inputDir, 'slow.csv', 3, 9, ['# sleep=4']);
    const run = runCli(['submit', 'values', file, '--wait', '--json', '--max-attempts', '3', '--sentinel', `${a},${b}`], { timeoutMs: 180_000 });
    await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
    await c.replica(0)!.kill9();

    const r = await run;
    assert.equal(r.code, 0, showCli(r));
    const [shown] = (JSON.parse(r.stdout) as { jobs: { id: string }[] }).jobs;
    const job = (await c.replicaClient(1).getJob({ jobId: shown.id, includeLogs: false })).job!;
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.ok(job.attempt >= 2, `attempt ${job.attempt}: the first one's Conclude died with replica A`);
    assert.equal(job.workerId, 'w1');
    assert.deepEqual(c.attemptDirs(job.id), [`attempt-${job.attempt}`], 'one committed attempt, the last');
    assert.equal((await c.replicaClient(1).fetchOutput(job.id)).info?.rows, 3, "replica B serves the output (the cluster's own client dials A alone)");
    assert.deepEqual(
      logLines(w1, 'connected to sentinel').map((l) => l.sentinel),
      [a, b],
    );
  });
});
