/**
 * Dead letter, RetryJob and the circuit breaker on a real Cluster with real
 * Python (the worker provisions the shared e2e pyarrow env), plus the CLI
 * commands as a subprocess (`node dist/tools/casparian.js …`).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { status } from '@grpc/grpc-js';
import { ErrorClass, JobState, type Job } from '../../services/gen/casparian/v1/types';
import { runCli as cli } from '../helpers/cli-run';
import { Cluster } from '../helpers/cluster';
import { REPO_ROOT, SHARED_LOCKFILE } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';

/** The same string as the e2e tests, so the worker's pyarrow env is shared across test files. */
const E2E_LOCKFILE = SHARED_LOCKFILE;
const SOURCE = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'transient_while_marker.py'), 'utf8');

describe('integration: dead letter, RetryJob and the circuit breaker', function () {
  this.timeout(600_000);
  let cluster: Cluster;
  let sentinel: string[];

  before(async () => {
    cluster = await Cluster.start({
      sentinel: { backoff: { initialMs: 50, multiplier: 2, maxMs: 200, jitter: 0 }, breakerThreshold: 3 },
      workers: [{ slots: 2 }],
    });
    sentinel = ['--sentinel', cluster.address];
  });
  after(() => cluster?.stop());

  async function publishFlaky(name: string, maxAttempts: number): Promise<void> {
    await cluster.client.publishPlugin({
      name,
      version: '1.0.0',
      source: SOURCE,
      lockfile: E2E_LOCKFILE,
      manifest: { description: 'transient while a marker exists', envAllow: [], maxAttempts, timeouts: undefined, isolation: '', maxConcurrency: 0 },
    });
  }
  /** An input file; with `failing`, its marker makes the plugin raise TransientError. */
  function input(name: string, failing: boolean): string {
    const file = cluster.input(name, 'x\n');
    if (failing) fs.writeFileSync(file + '.fail', '');
    return file;
  }
  const getJob = (id: string): Promise<Job> => cluster.getJob(id);
  async function plugin(name: string) {
    return (await cluster.client.listPlugins({ name })).plugins[0];
  }

  it('a job that keeps raising TransientError dead-letters after its attempts, with the traceback; job retry replays it', async () => {
    await publishFlaky('flaky', 2); // manifest max_attempts 2
    const file = input('flaky.csv', true);
    const submitted = await cluster.submit('flaky', file);
    assert.equal(submitted.maxAttempts, 2);

    // WatchJob ends on the dead-letter state.
    let last: Job | undefined;
    for await (const ev of cluster.client.watchJob(submitted.id)) last = ev.job;
    assert.equal(last?.state, JobState.JOB_STATE_DEAD_LETTER);

    const dead = await getJob(submitted.id);
    assert.equal(dead.state, JobState.JOB_STATE_DEAD_LETTER);
    assert.equal(dead.attempt, 2, 'both attempts ran');
    assert.equal(dead.error?.errorClass, ErrorClass.ERROR_CLASS_TRANSIENT);
    assert.equal(dead.error?.retryable, true);
    assert.match(dead.error!.message, /upstream unavailable for flaky\.csv/);
    assert.match(dead.error!.traceback, /Traceback \(most recent call last\)/);
    assert.match(dead.error!.traceback, /_fetch_upstream/);
    assert.ok(dead.finishedAt);
    assert.equal((await plugin('flaky')).consecutiveFailures, 2);

    const listed = await cli(['jobs', '--state', 'dead_letter', '--plugin', 'flaky', ...sentinel]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${dead.id}\\s+flaky@1\\.0\\.0\\s+dead_letter \\(PLUGIN_ERROR\\)\\s+2/2`, 'm'));
    const detail = await cli(['job', dead.id, ...sentinel]);
    assert.match(detail.stdout, /^state\s+dead_letter\s+— attempts exhausted; replay with casparian job retry/m);

    fs.rmSync(file + '.fail');
    const r = await cli(['job', 'retry', dead.id, ...sentinel]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${dead.id} queued \\(attempt 3 of at most 3 next\\)$`, 'm'));
    const done = await cluster.waitJob(dead.id, 300_000);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, done.error?.message);
    assert.equal(done.attempt, 3);
    assert.equal(done.error, undefined, 'the error is cleared by the successful attempt');
    assert.equal((await plugin('flaky')).consecutiveFailures, 0, 'a success resets the breaker count');

    // Retrying a succeeded job is FAILED_PRECONDITION; an unknown one NOT_FOUND.
    await assert.rejects(cluster.client.retryJob({ jobId: dead.id, resetAttempts: false }), (e: { code: number; details: string }) => {
      assert.equal(e.code, status.FAILED_PRECONDITION);
      assert.match(e.details, /is succeeded; only failed, dead_letter or cancelled jobs can be retried/);
      return true;
    });
    await assert.rejects(cluster.client.retryJob({ jobId: 'no-such-job', resetAttempts: false }), (e: { code: number }) => e.code === status.NOT_FOUND);
    const refused = await cli(['job', 'retry', dead.id, ...sentinel]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: FAILED_PRECONDITION: job \S+ is succeeded;/m);
  });

  it('the breaker pauses a version after 3 failures; its next job waits until plugin resume', async () => {
    await publishFlaky('breaker', 0);
    const failing = [1, 2, 3].map((i) => input(`b${i}.csv`, true));
    const jobs = [];
    for (const f of failing) jobs.push(await cluster.submit('breaker', f, { maxAttempts: 1 }));
    for (const j of jobs) assert.equal((await cluster.waitJob(j.id, 300_000)).state, JobState.JOB_STATE_DEAD_LETTER);

    const p = await plugin('breaker');
    assert.equal(p.paused, true);
    assert.equal(p.consecutiveFailures, 3);
    assert.equal(p.pausedReason, 'paused after 3 consecutive failures');
    const table = await cli(['plugins', '--name', 'breaker', ...sentinel]);
    assert.match(table.stdout, /^breaker\s+1\.0\.0\s.*\s3\s+paused \(paused after 3 consecutive failures\)\s+-$/m);

    const healthy = await cluster.submit('breaker', input('b4.csv', false));
    const reason = 'waiting: plugin breaker@1.0.0 is paused after 3 consecutive failures; resume with casparian plugin resume breaker 1.0.0';
    await waitFor('the paused reason', async () => (await getJob(healthy.id)).waitingReason === reason, 10_000);
    await new Promise((r) => setTimeout(r, 600)); // several scheduler ticks
    const still = await getJob(healthy.id);
    assert.equal(still.state, JobState.JOB_STATE_QUEUED, 'not dispatched while paused');
    assert.equal(still.attempt, 0);

    // Replay the dead letters (their inputs are fixed now): they queue behind the pause too.
    for (const f of failing) fs.rmSync(f + '.fail');
    const replay = await cli(['retry', '--dead-letter', '--plugin', 'breaker', ...sentinel]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /^replayed 3 dead-letter jobs$/m);
    for (const j of jobs) assert.equal((await getJob(j.id)).state, JobState.JOB_STATE_QUEUED);

    const resumed = await cli(['plugin', 'resume', 'breaker', '1.0.0', ...sentinel]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^breaker@1\.0\.0 active {2}consecutive failures 0$/m);
    for (const j of [healthy, ...jobs]) {
      const done = await cluster.waitJob(j.id, 300_000);
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, `${done.inputPath}: ${done.error?.message}`);
    }
    const after = await plugin('breaker');
    assert.equal(after.paused, false);
    assert.equal(after.consecutiveFailures, 0);
  });

  it('PausePlugin by hand holds jobs; RetryJob refuses a running job; bad requests get clear statuses', async () => {
    await cluster.client.publishPlugin({
      name: 'slow',
      version: '1.0.0',
      source: 'import time\nimport pyarrow as pa\n\ndef parse(path):\n    time.sleep(30)\n    return pa.table({"a": [1]})\n',
      lockfile: E2E_LOCKFILE,
      manifest: { description: '', envAllow: [], maxAttempts: 0, timeouts: undefined, isolation: '', maxConcurrency: 0 },
    });
    const running = await cluster.submit('slow', input('s1.csv', false));
    await waitFor('the job to run', async () => (await getJob(running.id)).state === JobState.JOB_STATE_RUNNING, 120_000);
    await assert.rejects(cluster.client.retryJob({ jobId: running.id, resetAttempts: false }), (e: { code: number; details: string }) => {
      assert.equal(e.code, status.FAILED_PRECONDITION);
      assert.match(e.details, /is running; only failed, dead_letter or cancelled jobs can be retried/);
      return true;
    });
    const paused = await cli(['plugin', 'pause', 'slow', '1.0.0', '--reason', 'maintenance', ...sentinel]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /^slow@1\.0\.0 paused \(paused by request: maintenance\)/m);
    const held = await cluster.submit('slow', input('s2.csv', false));
    await waitFor('the paused reason', async () => /plugin slow@1\.0\.0 is paused by request: maintenance/.test((await getJob(held.id)).waitingReason), 10_000);

    // Cancel both; a cancelled job can be replayed (it stays queued while paused).
    await cluster.client.cancelJob({ jobId: running.id, reason: 'test' });
    await cluster.client.cancelJob({ jobId: held.id, reason: 'test' });
    assert.equal((await cluster.waitJob(running.id, 60_000)).state, JobState.JOB_STATE_CANCELLED);
    assert.equal((await cluster.client.retryJob({ jobId: held.id, resetAttempts: true })).job!.state, JobState.JOB_STATE_QUEUED);
    assert.equal((await plugin('slow')).consecutiveFailures, 0, 'cancelled attempts do not count');
    await cluster.client.cancelJob({ jobId: held.id, reason: 'cleanup' });

    await assert.rejects(cluster.client.pausePlugin({ name: 'slow', version: '', reason: '' }), (e: { code: number }) => e.code === status.INVALID_ARGUMENT);
    await assert.rejects(cluster.client.resumePlugin({ name: 'slow', version: '9.9.9' }), (e: { code: number }) => e.code === status.NOT_FOUND);
    const usage = await cli(['plugin', 'resume', 'slow', ...sentinel]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^usage: casparian plugin pause NAME VERSION/);
  });
});
