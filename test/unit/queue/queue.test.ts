/** Queue operations on an in-memory SQLite with a fake clock. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import { DEFAULT_BACKOFF } from '../../../services/common/config';
import type { Db } from '../../../services/sentinel/db/open-database';
import {
  claimJob,
  completeAttempt,
  enqueueJob,
  extendLeases,
  failAttempt,
  getJob,
  getOutputs,
  listRunnable,
  nextRunAt,
  reclaimExpired,
  requestCancel,
  confirmCancelled,
  startAttempt,
  type AttemptRef,
} from '../../../services/sentinel/queue';
import { METRICS as metrics, PERMANENT as permanent, T0, TRANSIENT as transient, newJob as newJobOf } from './fixtures';

const output = { name: 'default', rows: 3, sizeBytes: 10, parquetPath: '/x/default.parquet', columns: [] };

for (const store of STORES) describe(`unit: queue [${store}]`, () => {
  let db: Db;
  let now: number;
  beforeEach(async () => {
    db = await openTestDb(store);
    now = T0;
  });
  afterEach(() => db.destroy());

  async function newJob(id = 'j1', extra: { maxAttempts?: number; key?: string; backoff?: { initialMs?: number; maxMs?: number } } = {}) {
    return enqueueJob(db, newJobOf(id, { maxAttempts: extra.maxAttempts ?? 3, idempotencyKey: extra.key, backoff: extra.backoff }), now);
  }
  async function claim(id = 'j1', token = 'L1'): Promise<AttemptRef> {
    const row = await claimJob(db, { jobId: id, workerId: 'w1', leaseToken: token, leaseMs: 1000 }, now);
    assert.ok(row, 'claimed');
    return { jobId: id, attempt: row.attempt, leaseToken: token };
  }

  it('enqueue is idempotent by key', async () => {
    const a = await newJob('j1', { key: 'k' });
    const b = await newJob('j2', { key: 'k' });
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.job.id, 'j1');
  });

  it('claim gives a new attempt and lease; a second claim of the same job fails', async () => {
    await newJob();
    const ref = await claim();
    assert.equal(ref.attempt, 1);
    assert.equal(await claimJob(db, { jobId: 'j1', workerId: 'w2', leaseToken: 'L2', leaseMs: 1000 }, now), undefined);
    assert.equal((await getJob(db, 'j1'))!.state, 'dispatched');
  });

  it('complete commits outputs only for the current lease holder', async () => {
    await newJob();
    const ref = await claim();
    assert.ok(await startAttempt(db, ref, 1000, now));
    assert.equal(await completeAttempt(db, { ...ref, leaseToken: 'stale' }, [output], metrics, now), undefined);
    assert.equal((await getOutputs(db, 'j1')).length, 0, 'a refused commit writes nothing');
    const done = await completeAttempt(db, ref, [output], metrics, now);
    assert.equal(done?.state, 'succeeded');
    assert.equal((await getOutputs(db, 'j1')).length, 1);
    assert.equal(await completeAttempt(db, ref, [output], metrics, now), undefined, 'a second commit is refused');
  });

  it('a transient failure requeues with backoff; attempts run out into dead_letter', async () => {
    await newJob('j1', { maxAttempts: 2 });
    let ref = await claim('j1', 'L1');
    const r1 = await failAttempt(db, { ref, error: transient, policy: DEFAULT_BACKOFF, now, rand: () => 0.5 });
    assert.equal(r1?.state, 'queued');
    assert.equal(r1?.run_at, now + 1000, 'first retry after 1 s');
    assert.equal((await listRunnable(db, now, 10)).length, 0, 'not runnable before run_at');
    now += 1000;
    assert.equal((await listRunnable(db, now, 10)).length, 1);
    ref = await claim('j1', 'L2');
    assert.equal(ref.attempt, 2);
    assert.equal(await failAttempt(db, { ref: { ...ref, leaseToken: 'L1' }, error: transient, policy: DEFAULT_BACKOFF, now }), undefined, 'the old lease cannot settle');
    const r2 = await failAttempt(db, { ref, error: { ...transient, traceback: 'Traceback (most recent call last):\n  boom' }, policy: DEFAULT_BACKOFF, now });
    assert.equal(r2?.state, 'dead_letter');
    assert.equal(r2?.finished_at, now);
    assert.equal(JSON.parse(r2!.error_json!).message, 'transient error');
    assert.match(JSON.parse(r2!.error_json!).traceback, /^Traceback/, 'the last traceback is kept');
    assert.equal((await listRunnable(db, now + 3_600_000, 10)).length, 0, 'a dead-letter job never runs by itself');
  });

  it("a job's own backoff overrides the Sentinel's policy", async () => {
    await newJob('j1', { maxAttempts: 3, backoff: { initialMs: 7000, maxMs: 9000 } });
    let ref = await claim('j1', 'L1');
    assert.equal((await failAttempt(db, { ref, error: transient, policy: DEFAULT_BACKOFF, now, rand: () => 0.5 }))?.run_at, now + 7000);
    now += 7000;
    ref = await claim('j1', 'L2');
    assert.equal((await failAttempt(db, { ref, error: transient, policy: DEFAULT_BACKOFF, now, rand: () => 0.5 }))?.run_at, now + 9000, '14 s capped at 9 s');
  });

  it('a permanent failure is not retried', async () => {
    await newJob();
    const ref = await claim();
    assert.equal((await failAttempt(db, { ref, error: permanent, policy: DEFAULT_BACKOFF, now }))?.state, 'failed');
  });

  it('heartbeats extend leases; expired leases are reclaimed as worker_lost and retried', async () => {
    await newJob();
    const ref = await claim();
    now += 900;
    assert.deepEqual(await extendLeases(db, [ref, { ...ref, leaseToken: 'nope' }], 1000, now), [ref]);
    now += 999;
    assert.equal((await reclaimExpired(db, now, DEFAULT_BACKOFF)).length, 0, 'extended lease still valid');
    now += 2;
    const reclaimed = await reclaimExpired(db, now, DEFAULT_BACKOFF, () => 0.5);
    assert.equal(reclaimed.length, 1);
    assert.equal(reclaimed[0].state, 'queued');
    assert.equal(JSON.parse(reclaimed[0].error_json!).errorClass, 'worker_lost');
    assert.equal(await completeAttempt(db, ref, [output], metrics, now), undefined, 'the lost worker cannot commit');
  });

  it('cancel: queued at once; running once the worker confirms', async () => {
    await newJob('a');
    assert.equal((await requestCancel(db, 'a', 'stop', now)).kind, 'cancelled');
    assert.equal((await requestCancel(db, 'a', 'stop', now)).kind, 'final');
    assert.equal((await requestCancel(db, 'zzz', 'stop', now)).kind, 'not_found');
    await newJob('b');
    const ref = await claim('b', 'L');
    assert.equal((await requestCancel(db, 'b', 'stop', now)).kind, 'requested');
    assert.equal((await getJob(db, 'b'))!.state, 'dispatched');
    assert.equal((await confirmCancelled(db, ref, now))?.state, 'cancelled');
  });

  it('a failure after a cancel request ends cancelled, not retried', async () => {
    await newJob();
    const ref = await claim();
    await requestCancel(db, 'j1', 'stop', now);
    assert.equal((await failAttempt(db, { ref, error: transient, policy: DEFAULT_BACKOFF, now }))?.state, 'cancelled');
  });
});

describe('unit: backoff', () => {
  const p = { initialMs: 1000, multiplier: 2, maxMs: 300_000, jitter: 0.2 };
  it('grows exponentially and caps', () => {
    const mid = () => 0.5; // no jitter
    assert.equal(nextRunAt(1, 0, p, mid), 1000);
    assert.equal(nextRunAt(2, 0, p, mid), 2000);
    assert.equal(nextRunAt(3, 0, p, mid), 4000);
    assert.equal(nextRunAt(20, 0, p, mid), 300_000);
  });
  it('jitters within ±10 %', () => {
    assert.equal(nextRunAt(2, 0, p, () => 0), 1800);
    assert.equal(nextRunAt(2, 0, p, () => 0.999999), 2200);
    assert.ok(nextRunAt(20, 0, p, () => 0.999999) <= 300_000, 'never above the cap');
  });
});
