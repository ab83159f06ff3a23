/**
 * No process of a plugin outlives its attempt, whatever ends it. The plugin
 * (spawn_child.py) starts a `sleep 300` subprocess in the guest's process
 * group and reports guest pid, child pid and group. After a worker kill -9, a
 * Sentinel kill -9, and a network cut between worker and Sentinel, the
 * guest's whole process group must be gone — children included — and the job
 * then completes, again leaving no process behind. (Beyond these checks,
 * useClusters() fails any test that leaves a process under its cluster root.)
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { faultPlugin, warmUp } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { groupMembers, pidAlive } from '../helpers/proc-inspect';
import { TcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

/** One run of spawn_child.py. */
interface Run {
  guest: number;
  child: number;
  pgid: number;
}

function runsOf(file: string): Run[] {
  if (!fs.existsSync(`${file}.pids`)) return [];
  return fs
    .readFileSync(`${file}.pids`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number))
    .map(([guest, child, pgid]) => ({ guest, child, pgid }));
}

/** The first run, once the plugin has started its subprocess; both must be running. */
async function firstRun(file: string): Promise<Run> {
  const run = await waitFor('the plugin to report its subprocess', () => runsOf(file)[0], 60_000, 50);
  assert.equal(run.pgid, run.guest, 'the guest leads its own process group');
  assert.ok(pidAlive(run.guest) && pidAlive(run.child), 'guest and subprocess run before the fault');
  assert.deepEqual(
    groupMembers(run.pgid).map((p) => p.pid).sort(),
    [run.guest, run.child].sort(),
    'the group holds the guest and its subprocess',
  );
  return run;
}

/** Wait until nothing of the run's process group is left. */
async function groupGone(run: Run, timeoutMs: number, what: string): Promise<void> {
  await waitFor(`the process group ${run.pgid} (guest ${run.guest}, subprocess ${run.child}) to be gone ${what}`, () => groupMembers(run.pgid).length === 0, timeoutMs, 50).catch((e: Error) => {
    throw new Error(`${e.message}; left: ${JSON.stringify(groupMembers(run.pgid))}`);
  });
  assert.ok(!pidAlive(run.child), `subprocess ${run.child} is gone`);
}

async function startCluster(track: (c: ProcCluster) => ProcCluster, workers: string[]): Promise<ProcCluster> {
  const c = track(await ProcCluster.start({ workers, slots: 1, leaseMs: 3_000, heartbeatMs: 500 }));
  await c.publish('values', faultPlugin('values.py'));
  await c.publish('spawn_child', faultPlugin('spawn_child.py'));
  return c;
}

/** The job succeeds, and every run's group (including the one that succeeded) is gone. */
async function completesWithoutLeftovers(c: ProcCluster, job: Job, file: string): Promise<Job> {
  const done = await c.waitJob(job.id, 120_000);
  assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
  assert.deepEqual(c.attemptDirs(done.id), [`attempt-${done.attempt}`]);
  for (const run of runsOf(file)) await groupGone(run, 10_000, 'after the job ended');
  return done;
}

describe('faults: no process of a plugin is left behind', function () {
  this.timeout(600_000);
  const clusters = useClusters();
  const proxies: TcpProxy[] = [];
  afterEach(async () => {
    for (const p of proxies.splice(0)) await p.close();
  });

  clusters.it('worker kill -9: the guest and its subprocess are gone; the job completes on another worker', async () => {
    const c = await startCluster(clusters.track, ['w1']);
    await warmUp(c);
    const file = c.input('worker-killed.txt', '60\n');
    const job = await c.submit('spawn_child', file, { maxAttempts: 3 });
    const run = await firstRun(file);

    await c.worker('w1').kill9();
    await groupGone(run, 10_000, 'after the worker was killed');
    await c.startWorker('w2', { slots: 1 });
    const done = await completesWithoutLeftovers(c, job, file);
    assert.equal(done.workerId, 'w2');
  });

  clusters.it('Sentinel kill -9: the attempt stops with its whole group; after a restart the job completes', async () => {
    const c = await startCluster(clusters.track, ['w1']);
    await warmUp(c);
    const file = c.input('sentinel-killed.txt', '60\n');
    const job = await c.submit('spawn_child', file, { maxAttempts: 3 });
    const run = await firstRun(file);

    await c.sentinel!.kill9();
    await groupGone(run, 15_000, 'after the Sentinel was killed');
    assert.ok(c.worker('w1').alive, 'the worker outlives its Sentinel');
    await c.startSentinel();
    const done = await completesWithoutLeftovers(c, job, file);
    assert.equal(done.workerId, 'w1');
  });

  clusters.it('network cut between worker and Sentinel: the attempt stops with its whole group; the job completes after reconnecting', async () => {
    const c = await startCluster(clusters.track, []);
    const proxy = await TcpProxy.start(c.port);
    proxies.push(proxy);
    await c.startWorker('w1', { slots: 1, sentinel: proxy.address });
    await warmUp(c);
    const file = c.input('disconnected.txt', '60\n');
    const job = await c.submit('spawn_child', file, { maxAttempts: 3 });
    const run = await firstRun(file);

    proxy.cut();
    await groupGone(run, 15_000, 'after the network was cut');
    assert.ok(c.worker('w1').alive, 'the worker itself was not harmed');
    proxy.resume();
    const done = await completesWithoutLeftovers(c, job, file);
    assert.equal(done.workerId, 'w1');
  });
});
