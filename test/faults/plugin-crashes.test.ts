/**
 * Faults inside the plugin: each misbehaviour runs as its own job on one
 * worker process; the test checks the job's final state and typed error, that
 * no guest process survives, and that the same worker process then still
 * serves a normal job.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorClass, JobState, type Job } from '../../services/gen/casparian/v1/types';
import { checkValues, faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

describe('faults: plugin crashes', function () {
  this.timeout(600_000);
  let c: ProcCluster;
  let n = 0;

  before(async () => {
    c = await ProcCluster.start({ workers: ['w1'], slots: 2, leaseMs: 3_000, heartbeatMs: 500 });
    await c.publish('values', faultPlugin('values.py'));
    // One plugin name per mode: the circuit breaker (5 consecutive failures of a
    // version pause it) must not make later modes wait.
    for (const mode of ['os_exit', 'segfault', 'memory_error', 'loop', 'garbage', 'stdout50mb']) await c.publish(`crash_${mode}`, faultPlugin('crash.py'));
    await warmUp(c);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`\n${c.dumpLogs()}\n`);
  });
  after(async () => {
    await c?.stop();
  });

  async function crashJob(mode: string, extra: { maxAttempts?: number; startToCloseMs?: number } = {}, timeoutMs = 120_000): Promise<Job> {
    const file = path.join(c.inputDir, `${mode}-${++n}.txt`);
    fs.writeFileSync(file, `${mode}\n`);
    return c.waitJob((await c.submit(`crash_${mode}`, file, extra)).id, timeoutMs);
  }

  /** After a fault: no guest is left, nothing is staged, and the same worker process runs a normal job. */
  async function stillServes(failedJob: Job): Promise<void> {
    assert.deepEqual(c.attemptDirs(failedJob.id), [], 'nothing committed for a failed job');
    await waitFor('no guest process to remain', () => c.guests().length === 0, 10_000);
    assert.ok(c.worker('w1').alive, 'the worker process is still running');
    const seed = ++n;
    const file = writeCsv(c.inputDir, `normal-${seed}.csv`, 4, seed);
    const job = await c.waitJob((await c.submit('values', file)).id, 60_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.workerId, 'w1');
    assert.equal(await checkValues(c, job.id, 4, seed), '');
  }

  it('os._exit(3): failed, permanent GUEST_CRASHED naming the exit code, not retried', async () => {
    const job = await crashJob('os_exit', { maxAttempts: 3 });
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_PERMANENT);
    assert.equal(job.error?.code, 'GUEST_CRASHED');
    assert.match(job.error!.message, /exited with code 3/);
    assert.equal(job.attempt, 1, 'a permanent crash is not retried');
    await stillServes(job);
  });

  it('segfault via ctypes: GUEST_CRASHED by SIGSEGV, transient, retried, then dead-lettered', async () => {
    const job = await crashJob('segfault', { maxAttempts: 2 });
    assert.equal(job.state, JobState.JOB_STATE_DEAD_LETTER);
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_TRANSIENT);
    assert.equal(job.error?.code, 'GUEST_CRASHED');
    assert.match(job.error!.message, /SIGSEGV/);
    assert.equal(job.attempt, 2, 'a signal death is retried');
    await stillServes(job);
  });

  it('raising MemoryError: failed with the resource_limit class, not retried', async () => {
    const job = await crashJob('memory_error', { maxAttempts: 3 });
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_RESOURCE_LIMIT);
    assert.match(job.error!.message, /out of memory/);
    assert.match(job.error!.traceback, /MemoryError/);
    assert.equal(job.attempt, 1);
    await stillServes(job);
  });

  it('an infinite loop is stopped by the start-to-close timeout, and the message names it', async () => {
    // A hang guard, not a latency limit: without the timeout the loop would never end.
    const job = await crashJob('loop', { maxAttempts: 1, startToCloseMs: 2_000 }, 30_000);
    assert.equal(job.state, JobState.JOB_STATE_DEAD_LETTER, 'a timeout is retryable; with max_attempts 1 the job is dead-lettered');
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_TIMEOUT);
    assert.equal(job.error?.code, 'TIMEOUT');
    assert.match(job.error!.message, /start-to-close/);
    await stillServes(job);
  });

  it('garbage written straight to the bridge socket: permanent protocol error', async () => {
    const job = await crashJob('garbage', { maxAttempts: 3 });
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_PROTOCOL, JSON.stringify(job.error));
    assert.equal(job.error?.code, 'GUEST_PROTOCOL');
    assert.equal(job.error?.retryable, false);
    assert.equal(job.attempt, 1);
    await stillServes(job);
  });

  it('printing 50 MB to stdout: succeeds, and the same worker serves the next job', async () => {
    const job = await crashJob('stdout50mb', { maxAttempts: 1 });
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.deepEqual(c.attemptDirs(job.id), [`attempt-1`]);
    await waitFor('no guest process to remain', () => c.guests().length === 0, 10_000);
    const normalSeed = ++n;
    const file = writeCsv(c.inputDir, `normal-${normalSeed}.csv`, 4, normalSeed);
    const normal = await c.waitJob((await c.submit('values', file)).id, 60_000);
    assert.equal(normal.state, JobState.JOB_STATE_SUCCEEDED);
  });
});
