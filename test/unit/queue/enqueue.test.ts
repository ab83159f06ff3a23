/** enqueueJob and idempotency keys on an in-memory SQLite: same request, different request, concurrency, old rows. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { MIGRATIONS, columnTypes, migrate } from '../../../services/sentinel/db/migrations';
import type { Db } from '../../../services/sentinel/db/open-database';
import { IdempotencyKeyConflict, enqueueJob, submitFingerprint, type SubmittedRequest } from '../../../services/sentinel/queue';
import { T0, newJob } from './fixtures';

const REQUEST: SubmittedRequest = { pluginName: 'p', pluginVersion: '', inputPath: '/in/a.csv', maxAttempts: 0 };

describe('unit: submitFingerprint', () => {
  it('is the same for the same request, with absent timeouts and backoff equal to zeros', () => {
    assert.match(submitFingerprint(REQUEST), /^[0-9a-f]{64}$/);
    assert.equal(submitFingerprint({ ...REQUEST }), submitFingerprint(REQUEST));
    assert.equal(
      submitFingerprint({ ...REQUEST, timeouts: { guestConnectMs: 0, idleMs: 0, startToCloseMs: 0, killGraceMs: 0, scheduleToStartMs: 0 }, backoff: { initialMs: 0, multiplier: 0, maxMs: 0 } }),
      submitFingerprint(REQUEST),
    );
  });

  it('changes with every field it covers', () => {
    const variants: [string, SubmittedRequest][] = [
      ['plugin name', { ...REQUEST, pluginName: 'q' }],
      ['requested version', { ...REQUEST, pluginVersion: '1.0.0' }],
      ['input path', { ...REQUEST, inputPath: '/in/b.csv' }],
      ['max attempts', { ...REQUEST, maxAttempts: 2 }],
      ...(['guestConnectMs', 'idleMs', 'startToCloseMs', 'killGraceMs', 'scheduleToStartMs'] as const).map(
        (f): [string, SubmittedRequest] => [`timeouts.${f}`, { ...REQUEST, timeouts: { [f]: 1000 } }],
      ),
      ...(['initialMs', 'multiplier', 'maxMs'] as const).map((f): [string, SubmittedRequest] => [`backoff.${f}`, { ...REQUEST, backoff: { [f]: 2 } }]),
    ];
    const seen = new Map([[submitFingerprint(REQUEST), 'the request']]);
    for (const [what, r] of variants) {
      const fp = submitFingerprint(r);
      assert.ok(!seen.has(fp), `${what} gives the same fingerprint as ${seen.get(fp)}`);
      seen.set(fp, what);
    }
  });
});

for (const store of STORES) describe(`unit: enqueue with an idempotency key [${store}]`, () => {
  let db: Db;
  beforeEach(async () => {
    db = await openTestDb(store);
  });
  afterEach(() => db.destroy());

  const fp = submitFingerprint(REQUEST);
  const other = submitFingerprint({ ...REQUEST, maxAttempts: 5 });
  const count = async () => (await db.selectFrom('jobs').select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;

  it('returns the first job for the same request', async () => {
    const a = await enqueueJob(db, newJob('j1', { idempotencyKey: 'k', submitFingerprint: fp }), T0);
    const b = await enqueueJob(db, newJob('j2', { idempotencyKey: 'k', submitFingerprint: fp }), T0 + 1);
    assert.deepEqual([a.created, b.created], [true, false]);
    assert.equal(b.job.id, 'j1');
    assert.equal(b.job.submit_fingerprint, fp);
    assert.equal(await count(), 1);
  });

  it('refuses a different request under the same key, naming the key and the existing job', async () => {
    await enqueueJob(db, newJob('j1', { idempotencyKey: 'k', submitFingerprint: fp }), T0);
    await assert.rejects(enqueueJob(db, newJob('j2', { idempotencyKey: 'k', submitFingerprint: other }), T0), (e: unknown) => {
      assert.ok(e instanceof IdempotencyKeyConflict);
      assert.equal(e.key, 'k');
      assert.equal(e.jobId, 'j1');
      assert.match(e.message, /^idempotency key "k" already names job j1, which was submitted with a different request/);
      return true;
    });
    assert.equal(await count(), 1, 'nothing was inserted');
  });

  it('creates exactly one job for concurrent calls with one key', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => enqueueJob(db, newJob(`j${i}`, { idempotencyKey: 'k', submitFingerprint: fp }), T0)));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.job.id)).size, 1);
    assert.equal(await count(), 1);
  });

  it('stores no fingerprint without a key; keys of different jobs do not interfere', async () => {
    const a = await enqueueJob(db, newJob('j1', { submitFingerprint: fp }), T0);
    const b = await enqueueJob(db, newJob('j2', { submitFingerprint: fp }), T0);
    assert.deepEqual([a.created, b.created, a.job.submit_fingerprint], [true, true, null]);
    const c = await enqueueJob(db, newJob('j3', { idempotencyKey: 'k2', submitFingerprint: other }), T0);
    assert.equal(c.created, true);
  });
});

describe('unit: migration 4 (request fingerprints)', () => {
  it('keeps jobs keyed before it, which then match any request with their key', async () => {
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
    try {
      await sql`create table schema_migrations (id integer primary key, name text not null, applied_at integer not null)`.execute(db);
      for (const m of MIGRATIONS.filter((x) => x.id <= 3)) {
        await m.up(db, columnTypes('sqlite'));
        await sql`insert into schema_migrations (id, name, applied_at) values (${m.id}, ${m.name}, 0)`.execute(db);
      }
      await sql`insert into jobs (id, plugin_name, plugin_version, env_hash, input_path, state, max_attempts, run_at, idempotency_key, timeouts_json, created_at, updated_at)
                values ('old', 'p', '1', 'e', '/in', 'queued', 3, 0, 'k', '{}', 0, 0)`.execute(db);
      assert.deepEqual(await migrate(db), MIGRATIONS.filter((m) => m.id >= 4).map((m) => m.id), 'migration 4 and every later one');
      const res = await enqueueJob(db as Db, newJob('new', { idempotencyKey: 'k', submitFingerprint: submitFingerprint(REQUEST) }), T0);
      assert.deepEqual([res.created, res.job.id, res.job.submit_fingerprint], [false, 'old', null]);
    } finally {
      await db.destroy();
    }
  });
});
