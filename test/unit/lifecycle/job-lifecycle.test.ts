/** The job lifecycle on an in-memory SQLite with a fake clock: settle, then publish, then release or kick — or nothing at all. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import { DEFAULT_BACKOFF } from '../../../services/common/config';
import { JobErrors } from '../../../services/common/job-error';
import { silentLogger } from '../../../services/common/logger';
import type { Db } from '../../../services/sentinel/db/open-database';
import { JobEvents, type JobEvent } from '../../../services/sentinel/job-events';
import { JobLifecycle } from '../../../services/sentinel/lifecycle/job-lifecycle';
import type { SlotControl } from '../../../services/sentinel/lifecycle/types';
import { publishPlugin } from '../../../services/sentinel/plugins/registry';
import { getJob, listLogs, type AttemptRef, type JobRow } from '../../../services/sentinel/queue';

const T0 = 1_700_000_000_000;
const timeouts = { guestConnectMs: 1, idleMs: 1, startToCloseMs: 1, killGraceMs: 1, scheduleToStartMs: 0 };
const metrics = { rows: 1, durationMs: 1, envMs: 0, envProvisioned: false, arrowBytes: 1 };
const manifest = { description: '', envAllow: [], timeouts, maxAttempts: 0, limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 0 }, backoff: { initialMs: 0, multiplier: 0, maxMs: 0 }, isolation: '' as const, maxConcurrency: 0 };

/** Records, in order, every event published and every call the lifecycle makes on the scheduler. */
class Recorder implements SlotControl {
  readonly calls: string[] = [];
  cancelSent = true;
  release(jobId: string): void {
    this.calls.push(`release ${jobId}`);
  }
  freeSlot(workerId: string, jobId: string): void {
    this.calls.push(`freeSlot ${workerId} ${jobId}`);
  }
  kick(): void {
    this.calls.push('kick');
  }
  cancelOnWorker(job: JobRow, reason: string): boolean {
    this.calls.push(`cancelOnWorker ${job.id} ${reason}`);
    return this.cancelSent;
  }
  async refreshPaused(): Promise<void> {
    this.calls.push('refreshPaused');
  }
}

for (const store of STORES) describe(`unit: job lifecycle [${store}]`, () => {
  let db: Db;
  let now: number;
  let rec: Recorder;
  let life: JobLifecycle;

  beforeEach(async () => {
    db = await openTestDb(store);
    now = T0;
    rec = new Recorder();
    const events = new JobEvents();
    events.subscribe('*', (e: JobEvent) => rec.calls.push(e.kind === 'state' ? `state ${e.jobId}` : `${e.kind} ${e.jobId}`));
    life = new JobLifecycle({
      db,
      clock: { now: () => now },
      events,
      policy: { leaseMs: 1000, backoff: DEFAULT_BACKOFF, breakerThreshold: 2 },
      slots: rec,
      logger: silentLogger,
      rand: () => 0.5,
    });
    await publishPlugin(db, { name: 'p', version: '1', source: 'def parse(path): pass', lockfile: 'pyarrow\n', manifest }, now);
  });
  afterEach(() => db.destroy());

  const newJob = (id: string, extra: { maxAttempts?: number; idempotencyKey?: string } = {}) =>
    life.submitted({ job: { id, pluginName: 'p', pluginVersion: '1', envHash: 'e', inputPath: '/in', maxAttempts: extra.maxAttempts ?? 3, timeouts, idempotencyKey: extra.idempotencyKey } });

  async function running(id: string, token = 'L1'): Promise<AttemptRef> {
    const [row] = await life.dispatched({ claims: [{ jobId: id, workerId: 'w1', leaseToken: token }] });
    assert.ok(row);
    const ref = { jobId: id, attempt: row.attempt, leaseToken: token };
    assert.ok(await life.attemptStarted({ ref }));
    rec.calls.length = 0;
    return ref;
  }

  it('submitted: publishes and kicks once; an idempotent resubmit does neither', async () => {
    assert.equal((await newJob('j1', { idempotencyKey: 'k' })).created, true);
    assert.deepEqual(rec.calls, ['state j1', 'kick']);
    rec.calls.length = 0;
    const again = await newJob('j2', { idempotencyKey: 'k' });
    assert.equal(again.job.id, 'j1');
    assert.deepEqual(rec.calls, []);
  });

  it("dispatched (one round's claims) and attemptStarted publish; a second claim of the same job is refused silently", async () => {
    await newJob('j1');
    await newJob('j2');
    await life.cancelled({ jobId: 'j2', reason: '' });
    rec.calls.length = 0;
    const rows = await life.dispatched({
      claims: [
        { jobId: 'j1', workerId: 'w1', leaseToken: 'L1' },
        { jobId: 'j2', workerId: 'w1', leaseToken: 'L9' },
        { jobId: 'j1', workerId: 'w2', leaseToken: 'L2' },
      ],
    });
    assert.deepEqual(rows.map((r) => [r.id, r.state, r.lease_token]), [['j1', 'dispatched', 'L1']], 'the cancelled job and the second claim are left out');
    assert.deepEqual(await life.dispatched({ claims: [] }), []);
    assert.ok(await life.attemptStarted({ ref: { jobId: 'j1', attempt: 1, leaseToken: 'L1' } }));
    assert.equal(await life.attemptStarted({ ref: { jobId: 'j1', attempt: 1, leaseToken: 'L2' } }), undefined);
    assert.deepEqual(rec.calls, ['state j1', 'state j1']);
  });

  it('attemptSucceeded: settles, then publishes, then releases the slot', async () => {
    await newJob('j1');
    const ref = await running('j1');
    const row = await life.attemptSucceeded({ ref, outputs: [], metrics });
    assert.equal(row?.state, 'succeeded');
    assert.deepEqual(rec.calls, ['state j1', 'release j1']);
  });

  it('verdictArrived frees the slot on the attempt\'s worker only, before the settle; the state is unchanged', async () => {
    await newJob('j1');
    const ref = await running('j1');
    life.verdictArrived({ ref, workerId: 'w1' });
    assert.equal((await getJob(db, 'j1'))!.state, 'running');
    await life.attemptSucceeded({ ref, outputs: [], metrics });
    assert.deepEqual(rec.calls, ['freeSlot w1 j1', 'state j1', 'release j1']);
  });

  it('a settle refused by the lease fence publishes nothing and frees nothing', async () => {
    await newJob('j1');
    const ref = await running('j1');
    const stale = { ...ref, leaseToken: 'stale' };
    assert.equal(await life.attemptSucceeded({ ref: stale, outputs: [], metrics }), undefined);
    assert.equal(await life.attemptFailed({ ref: stale, error: JobErrors.internal('x') }), undefined);
    assert.equal(await life.attemptCancelled({ ref: stale }), undefined);
    assert.deepEqual(rec.calls, []);
    assert.equal((await getJob(db, 'j1'))!.state, 'running');
  });

  it('attemptFailed: a retryable error requeues with backoff; the plugin breaker counts only plugin faults', async () => {
    await newJob('j1');
    const row = await life.attemptFailed({ ref: await running('j1'), error: JobErrors.plugin('transient', 'flaky'), metrics });
    assert.equal(row?.state, 'queued');
    assert.equal(row?.run_at, now + DEFAULT_BACKOFF.initialMs);
    assert.deepEqual(rec.calls, ['state j1', 'release j1']);
    now = row!.run_at;
    await life.attemptFailed({ ref: await running('j1', 'L2'), error: JobErrors.guestStartFailed('bad env') });
    now += 60_000;
    await life.attemptFailed({ ref: await running('j1', 'L3'), error: JobErrors.internal('worker bug') });
    assert.equal((await getJob(db, 'j1'))!.state, 'dead_letter');
    const plugin = () => db.selectFrom('plugins').selectAll().executeTakeFirstOrThrow();
    assert.equal((await plugin()).consecutive_failures, 1, "GUEST_START_FAILED and INTERNAL are not the plugin's fault");
    assert.equal((await plugin()).paused, 0);
    await newJob('j2');
    rec.calls.length = 0;
    await life.attemptFailed({ ref: await running('j2'), error: JobErrors.plugin('permanent', 'bug') });
    assert.deepEqual(rec.calls, ['state j2', 'release j2']);
    assert.equal((await plugin()).paused, 1);
    assert.equal((await plugin()).paused_reason, 'paused after 2 consecutive failures');
  });

  it('cancelled: a queued job is cancelled at once; a running one is asked to stop on its worker, then confirmed', async () => {
    await newJob('q');
    rec.calls.length = 0;
    assert.equal((await life.cancelled({ jobId: 'q', reason: '' })).kind, 'cancelled');
    // The cancel is kept in the job's own log, before its state is published.
    assert.deepEqual(rec.calls, ['log q', 'state q']);
    assert.deepEqual((await listLogs(db, 'q')).map((l) => [l.source, l.message]), [['sentinel', 'CancelJob: no reason given']]);
    await newJob('r');
    const ref = await running('r');
    assert.equal((await life.cancelled({ jobId: 'r', reason: 'stop it' })).kind, 'requested');
    assert.deepEqual(rec.calls, ['log r', 'cancelOnWorker r stop it', 'state r']);
    rec.calls.length = 0;
    assert.equal((await life.attemptCancelled({ ref }))?.state, 'cancelled');
    assert.deepEqual(rec.calls, ['state r', 'release r']);
    assert.equal((await life.cancelled({ jobId: 'r', reason: '' })).kind, 'final');
    assert.equal((await life.cancelled({ jobId: 'nope', reason: '' })).kind, 'not_found');
  });

  it('retried: a failed job is queued again and the scheduler kicked', async () => {
    await newJob('j1');
    await life.attemptFailed({ ref: await running('j1'), error: JobErrors.plugin('permanent', 'bug') });
    rec.calls.length = 0;
    const res = await life.retried({ jobId: 'j1', resetAttempts: false });
    assert.equal(res.kind, 'retried');
    assert.deepEqual(rec.calls, ['log j1', 'state j1', 'kick']);
    assert.equal((await listLogs(db, 'j1')).at(-1)?.message, 'RetryJob: queued again');
    rec.calls.length = 0;
    assert.equal((await life.retried({ jobId: 'j1', resetAttempts: false })).kind, 'not_retryable');
    assert.deepEqual(rec.calls, []);
  });

  it('leaseExpired: expired attempts are settled WORKER_LOST, published and released; live ones are kept', async () => {
    await newJob('a');
    await newJob('b');
    await running('a', 'La');
    const b = await running('b', 'Lb');
    now += 600;
    assert.deepEqual(await life.leasesRenewed({ refs: [b] }), [b]);
    now += 600;
    rec.calls.length = 0;
    const rows = await life.leaseExpired();
    assert.deepEqual(rows.map((r) => [r.id, r.state, r.worker_id]), [['a', 'queued', 'w1']]);
    assert.equal(JSON.parse(rows[0].error_json!).code, 'WORKER_LOST');
    assert.deepEqual(rec.calls, ['state a', 'release a']);
    assert.equal((await getJob(db, 'b'))!.state, 'running');
  });

  it('attemptsLost: a reconnecting worker loses the attempts it no longer names', async () => {
    await newJob('kept');
    await newJob('lost');
    const kept = await running('kept', 'Lk');
    await running('lost', 'Ll');
    const rows = await life.attemptsLost({ workerId: 'w1', stillRunning: [kept] });
    assert.deepEqual(rows.map((r) => r.id), ['lost']);
    assert.match(JSON.parse(rows[0].error_json!).message, /reconnected without attempt 1/);
    assert.deepEqual(rec.calls, ['state lost', 'release lost']);
  });

  it('expiredBeforeStart fails a queued job; a job claimed meanwhile is left alone', async () => {
    await newJob('a');
    await newJob('b');
    await running('b');
    const error = JobErrors.timeout('schedule_to_start', 10, 'all capable workers are busy');
    assert.equal((await life.expiredBeforeStart({ jobId: 'a', error }))?.state, 'failed');
    assert.equal(await life.expiredBeforeStart({ jobId: 'b', error }), undefined);
    assert.deepEqual(rec.calls, ['state a']);
  });

  it('attemptLogged stores and publishes; attemptProgressed only publishes', async () => {
    await newJob('j1');
    const ref = await running('j1');
    await life.attemptLogged({ ref, level: 'info', source: 'plugin', message: 'hello' });
    life.attemptProgressed({ ref, rows: 5, fraction: 0.5, message: '' });
    assert.deepEqual(rec.calls, ['log j1', 'progress j1']);
    assert.deepEqual((await listLogs(db, 'j1')).map((l) => l.message), ['hello']);
  });

  it('pluginPaused refreshes the paused set; pluginResumed refreshes and kicks; unknown versions do nothing', async () => {
    assert.ok(await life.pluginPaused({ name: 'p', version: '1', reason: 'bad deploy' }));
    assert.ok(await life.pluginResumed({ name: 'p', version: '1' }));
    assert.equal(await life.pluginPaused({ name: 'p', version: '9', reason: '' }), undefined);
    assert.equal(await life.pluginResumed({ name: 'p', version: '9' }), undefined);
    assert.deepEqual(rec.calls, ['refreshPaused', 'refreshPaused', 'kick']);
  });
});
