/** Dead letter, RetryJob's queue operation and the circuit breaker, on an in-memory SQLite with a fake clock. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { compileSentinelConfig, DEFAULT_BACKOFF } from '../../../services/common/config';
import { JobErrors, type JobError } from '../../../services/common/job-error';
import { MIGRATIONS, columnTypes, migrate } from '../../../services/sentinel/db/migrations';
import type { Db } from '../../../services/sentinel/db/open-database';
import { listPausedPlugins, pausePlugin, pausedWaitingReason, resumePlugin } from '../../../services/sentinel/plugins/breaker';
import { findPlugin, publishPlugin } from '../../../services/sentinel/plugins/registry';
import {
  claimJob,
  completeAttempt,
  enqueueJob,
  failAttempt,
  getJob,
  listRunnable,
  reclaimExpired,
  requestCancel,
  retryJob,
  startAttempt,
  type AttemptRef,
} from '../../../services/sentinel/queue';
import { METRICS as metrics, PERMANENT as permanent, T0, TIMEOUTS as timeouts, TRANSIENT as transient, newJob as newJobOf } from './fixtures';

const manifest = { description: '', envAllow: [], timeouts, maxAttempts: 0, limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 0 }, backoff: { initialMs: 0, multiplier: 0, maxMs: 0 }, isolation: '' as const, maxConcurrency: 0 };
const noJitter = () => 0.5;

for (const store of STORES) describe(`unit: dead letter, retry and circuit breaker [${store}]`, () => {
  let db: Db;
  let now: number;
  let seq: number;
  beforeEach(async () => {
    db = await openTestDb(store);
    now = T0;
    seq = 0;
    for (const version of ['1', '2']) {
      await publishPlugin(db, { name: 'p', version, source: 'def parse(path): pass', lockfile: 'pyarrow==25.0.1\n', manifest }, now);
    }
  });
  afterEach(() => db.destroy());

  async function newJob(opts: { id?: string; maxAttempts?: number; version?: string } = {}): Promise<string> {
    const id = opts.id ?? `j${++seq}`;
    await enqueueJob(db, newJobOf(id, { pluginVersion: opts.version ?? '1', maxAttempts: opts.maxAttempts ?? 3 }), now);
    return id;
  }
  async function claim(id: string): Promise<AttemptRef> {
    const token = `L${++seq}`;
    const row = await claimJob(db, { jobId: id, workerId: 'w1', leaseToken: token, leaseMs: 1000 }, now);
    assert.ok(row, `claimed ${id}`);
    assert.ok(await startAttempt(db, { jobId: id, attempt: row.attempt, leaseToken: token }, 1000, now));
    return { jobId: id, attempt: row.attempt, leaseToken: token };
  }
  /** Claim and fail one attempt; returns the job's state afterwards. */
  async function failOnce(id: string, e: JobError, threshold = 0): Promise<string> {
    const row = await failAttempt(db, { ref: await claim(id), error: e, policy: DEFAULT_BACKOFF, now, rand: noJitter, breakerThreshold: threshold });
    assert.ok(row, 'settled');
    return row.state;
  }
  async function version(v = '1') {
    return (await findPlugin(db, 'p', v))!;
  }

  describe('dead letter', () => {
    it('a retryable error with no attempts left lands in dead_letter; a permanent one in failed', async () => {
      const a = await newJob({ maxAttempts: 1 });
      assert.equal(await failOnce(a, { ...transient, traceback: 'Traceback: x' }), 'dead_letter');
      const row = (await getJob(db, a))!;
      assert.deepEqual(JSON.parse(row.error_json!), { ...transient, traceback: 'Traceback: x' });
      assert.equal(row.lease_token, null);

      const b = await newJob({ maxAttempts: 3 });
      assert.equal(await failOnce(b, permanent), 'failed', 'permanent errors never dead-letter, attempts left or not');

      const c = await newJob({ maxAttempts: 1 });
      assert.equal(await failOnce(c, JobErrors.timeout('start_to_close', 1000)), 'dead_letter', 'retryable timeouts dead-letter too');
    });

    it('a lost worker on the last attempt dead-letters the job', async () => {
      const id = await newJob({ maxAttempts: 1 });
      await claim(id);
      now += 5_000;
      const [row] = await reclaimExpired(db, now, DEFAULT_BACKOFF, noJitter);
      assert.equal(row.state, 'dead_letter');
      assert.equal(JSON.parse(row.error_json!).errorClass, 'worker_lost');
    });
  });

  describe('retryJob', () => {
    it('replays a dead_letter job with one more attempt, keeping the last error until it settles', async () => {
      const id = await newJob({ maxAttempts: 2 });
      assert.equal(await failOnce(id, transient), 'queued');
      now += 10_000;
      assert.equal(await failOnce(id, transient), 'dead_letter');
      now += 60_000;
      const res = await retryJob(db, id, { resetAttempts: false }, now);
      assert.equal(res.kind, 'retried');
      const job = res.kind === 'retried' ? res.job : undefined!;
      assert.equal(job.state, 'queued');
      assert.equal(job.run_at, now, 'runnable at once');
      assert.equal(job.attempt, 2, 'attempt numbers never restart');
      assert.equal(job.max_attempts, 3);
      assert.equal(job.finished_at, null);
      assert.equal(JSON.parse(job.error_json!).message, 'transient error', 'error kept until the next attempt settles');
      assert.deepEqual((await listRunnable(db, now, 10)).map((j) => j.id), [id]);
      const ref = await claim(id);
      assert.equal(ref.attempt, 3);
      assert.equal((await failAttempt(db, { ref, error: transient, policy: DEFAULT_BACKOFF, now, rand: noJitter }))?.state, 'dead_letter', 'only one more attempt');
    });

    it('reset_attempts grants the submitted budget again', async () => {
      const id = await newJob({ maxAttempts: 2 });
      await failOnce(id, transient);
      now += 10_000;
      assert.equal(await failOnce(id, transient), 'dead_letter');
      const res = await retryJob(db, id, { resetAttempts: true }, now);
      assert.equal(res.kind === 'retried' && res.job.max_attempts, 4, 'attempt 2 + the budget of 2');
      assert.equal(await failOnce(id, transient), 'queued', 'a transient failure retries again');
      now += 10_000;
      const ref = await claim(id);
      assert.ok(await completeAttempt(db, ref, [], metrics, now));
      assert.equal((await getJob(db, id))!.error_json, null, 'the error is cleared once an attempt succeeds');
    });

    it('replays failed and cancelled jobs (a cancelled one can be claimed again)', async () => {
      const f = await newJob();
      assert.equal(await failOnce(f, permanent), 'failed');
      assert.equal((await retryJob(db, f, { resetAttempts: false }, now)).kind, 'retried');
      assert.equal((await getJob(db, f))!.state, 'queued');

      const c = await newJob();
      assert.equal((await requestCancel(db, c, 'stop', now)).kind, 'cancelled');
      const res = await retryJob(db, c, { resetAttempts: false }, now);
      assert.equal(res.kind === 'retried' && res.job.cancel_requested, 0);
      const ref = await claim(c);
      assert.equal(ref.attempt, 1);
      assert.equal(res.kind === 'retried' && res.job.max_attempts, 1, 'never-run job: one attempt');
    });

    it('refuses queued, running and succeeded jobs; unknown jobs are not_found', async () => {
      const q = await newJob();
      assert.deepEqual(await kindAndState(q), ['not_retryable', 'queued']);
      await claim(q);
      assert.deepEqual(await kindAndState(q), ['not_retryable', 'running']);
      const s = await newJob();
      assert.ok(await completeAttempt(db, await claim(s), [], metrics, now));
      assert.deepEqual(await kindAndState(s), ['not_retryable', 'succeeded']);
      assert.equal((await retryJob(db, 'nope', { resetAttempts: false }, now)).kind, 'not_found');
      assert.equal((await getJob(db, q))!.state, 'running', 'a refused retry changes nothing');
    });

    async function kindAndState(id: string): Promise<[string, string]> {
      const r = await retryJob(db, id, { resetAttempts: true }, now);
      return [r.kind, r.kind === 'not_found' ? '' : r.job.state];
    }
  });

  describe('circuit breaker', () => {
    it('pauses a version after N consecutive failed attempts; its jobs stay queued', async () => {
      for (let i = 0; i < 2; i++) await failOnce(await newJob(), permanent, 3);
      assert.equal((await version()).consecutive_failures, 2);
      assert.equal((await version()).paused, 0);
      const waiting = await newJob();
      const other = await newJob({ version: '2' });
      await failOnce(await newJob(), transient, 3); // retried, still counts
      const p = await version();
      assert.equal(p.paused, 1);
      assert.equal(p.consecutive_failures, 3);
      assert.equal(p.paused_reason, 'paused after 3 consecutive failures');
      assert.equal(p.paused_at, now);
      assert.equal(
        pausedWaitingReason(p),
        'waiting: plugin p@1 is paused after 3 consecutive failures; resume with casparian plugin resume p 1',
      );
      now += 3_600_000;
      const runnable = (await listRunnable(db, now, 10)).map((j) => j.id);
      assert.deepEqual(runnable, [other], 'only the other version is runnable');
      assert.equal((await getJob(db, waiting))!.state, 'queued');
      assert.equal((await version('2')).consecutive_failures, 0, 'per version');
      assert.deepEqual((await listPausedPlugins(db)).map((x) => x.version), ['1']);

      const resumed = (await resumePlugin(db, { name: 'p', version: '1' }, now))!;
      assert.equal(resumed.paused, 0);
      assert.equal((await getJob(db, waiting))!.run_at, now, 'the schedule-to-start clock restarts on resume');
      assert.equal(resumed.consecutive_failures, 0);
      assert.equal(resumed.paused_reason, null);
      assert.ok((await listRunnable(db, now, 10)).some((j) => j.id === waiting), 'runnable again after resume');
    });

    it('a success resets the count', async () => {
      await failOnce(await newJob(), permanent, 3);
      await failOnce(await newJob(), permanent, 3);
      const ok = await newJob();
      assert.ok(await completeAttempt(db, await claim(ok), [], metrics, now));
      assert.equal((await version()).consecutive_failures, 0);
      await failOnce(await newJob(), permanent, 3);
      await failOnce(await newJob(), permanent, 3);
      assert.equal((await version()).paused, 0, '2 after the reset, below 3');
    });

    it("only failures that are the plugin's fault count; a cancel-requested failure neither", async () => {
      const notThePlugins: JobError[] = [
        JobErrors.cancelled('stop'),
        JobErrors.workerLost('lease expired'),
        JobErrors.guestStartFailed('guest exited with code 1 before the bridge handshake'),
        JobErrors.envMissing('no env'),
        JobErrors.envProvisionFailed('pip failed'),
        JobErrors.envProvisionTimeout('pip took too long'),
        JobErrors.inputMissing('no such file'),
        JobErrors.internal('bridge failed to start'),
        JobErrors.guestProtocol('bad frame'),
      ];
      for (const e of notThePlugins) await failOnce(await newJob(), e, 1);
      const id = await newJob();
      const ref = await claim(id);
      await requestCancel(db, id, 'stop', now);
      assert.equal((await failAttempt(db, { ref, error: transient, policy: DEFAULT_BACKOFF, now, rand: noJitter, breakerThreshold: 1 }))?.state, 'cancelled');
      assert.equal((await version()).consecutive_failures, 0);
      assert.equal((await version()).paused, 0);

      const thePlugins: JobError[] = [
        JobErrors.resourceLimit('RLIMIT_AS'),
        JobErrors.guestCrashed('signal', 'SIGSEGV'),
        JobErrors.timeout('idle', 1000),
        JobErrors.invalidOutput('not Arrow'),
        permanent,
      ];
      for (const [i, e] of thePlugins.entries()) {
        await failOnce(await newJob(), e, thePlugins.length);
        assert.equal((await version()).consecutive_failures, i + 1, `${e.code} counts`);
      }
      assert.equal((await version()).paused, 1);
    });

    it('threshold 0 counts but never pauses; a refused (stale) settle counts nothing', async () => {
      for (let i = 0; i < 4; i++) await failOnce(await newJob(), permanent, 0);
      assert.equal((await version()).consecutive_failures, 4);
      assert.equal((await version()).paused, 0);
      const id = await newJob();
      const ref = await claim(id);
      assert.equal(await failAttempt(db, { ref: { ...ref, leaseToken: 'stale' }, error: permanent, policy: DEFAULT_BACKOFF, now, rand: noJitter, breakerThreshold: 5 }), undefined);
      assert.equal((await version()).consecutive_failures, 4);
    });

    it('pause and resume by hand; pausing twice keeps the first reason; unknown versions give undefined', async () => {
      const p = (await pausePlugin(db, { name: 'p', version: '2', reason: 'bad deploy' }, now))!;
      assert.equal(p.paused, 1);
      assert.equal(p.paused_reason, 'paused by request: bad deploy');
      assert.equal((await pausePlugin(db, { name: 'p', version: '2', reason: 'other' }, now + 1))!.paused_reason, 'paused by request: bad deploy');
      assert.equal(await pausePlugin(db, { name: 'p', version: '9', reason: '' }, now), undefined);
      assert.equal(await resumePlugin(db, { name: 'nope', version: '1' }, now), undefined);
      assert.equal((await resumePlugin(db, { name: 'p', version: '2' }, now))!.paused, 0);
    });
  });
});

describe('unit: migrations 2 and 3', () => {
  it('add breaker columns, backfill attempt_budget and add backoff_json on a database at migration 1', async () => {
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
    try {
      await sql`create table schema_migrations (id integer primary key, name text not null, applied_at integer not null)`.execute(db);
      await MIGRATIONS[0].up(db, columnTypes('sqlite'));
      await sql`insert into schema_migrations (id, name, applied_at) values (1, 'initial schema', 0)`.execute(db);
      await sql`insert into plugins (name, version, source, lockfile, manifest_json, env_hash, artifact_hash, created_at) values ('p', '1', 's', 'l', '{}', 'e', 'a', 0)`.execute(db);
      await sql`insert into jobs (id, plugin_name, plugin_version, env_hash, input_path, state, max_attempts, run_at, timeouts_json, created_at, updated_at)
                values ('old', 'p', '1', 'e', '/in', 'failed', 4, 0, '{}', 0, 0)`.execute(db);
      assert.deepEqual(await migrate(db), MIGRATIONS.filter((m) => m.id >= 2).map((m) => m.id), 'migration 2 and every later one');
      const job = (await sql<{ attempt_budget: number }>`select attempt_budget from jobs where id = 'old'`.execute(db)).rows[0];
      assert.equal(job.attempt_budget, 4);
      const p = (await sql<Record<string, unknown>>`select paused, consecutive_failures, paused_reason from plugins`.execute(db)).rows[0];
      assert.deepEqual(p, { paused: 0, consecutive_failures: 0, paused_reason: null });
      const b = (await sql<{ backoff_json: string | null }>`select backoff_json from jobs where id = 'old'`.execute(db)).rows[0];
      assert.equal(b.backoff_json, null, 'existing jobs keep the Sentinel policy');
      assert.deepEqual(await migrate(db), [], 'applied once');
    } finally {
      await db.destroy();
    }
  });
});

describe('unit: breaker threshold config', () => {
  it('defaults to 5, reads CASPARIAN_BREAKER_THRESHOLD, refuses junk', () => {
    assert.equal(compileSentinelConfig({}, {}).breakerThreshold, 5);
    assert.equal(compileSentinelConfig({}, { CASPARIAN_BREAKER_THRESHOLD: '3' }).breakerThreshold, 3);
    assert.equal(compileSentinelConfig({}, { CASPARIAN_BREAKER_THRESHOLD: '0' }).breakerThreshold, 0);
    assert.throws(() => compileSentinelConfig({}, { CASPARIAN_BREAKER_THRESHOLD: 'many' }), /CASPARIAN_BREAKER_THRESHOLD must be an integer >= 0/);
  });
});
