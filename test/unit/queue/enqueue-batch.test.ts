/** enqueueBatch on an in-memory SQLite: all or nothing, in order, idempotent by key. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { MIGRATIONS, columnTypes, migrate } from '../../../services/sentinel/db/migrations';
import type { Db } from '../../../services/sentinel/db/open-database';
import { IdempotencyKeyConflict, batchFingerprint, enqueueBatch, getBatch, listJobs } from '../../../services/sentinel/queue';
import { T0, newJob } from './fixtures';

for (const store of STORES) describe(`unit: enqueueBatch [${store}]`, () => {
  let db: Db;
  beforeEach(async () => (db = await openTestDb(store)));
  afterEach(() => db.destroy());

  const jobs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => newJob(`${prefix}${i}`, { inputPath: `/in/${i}.csv` }));
  const req = { pluginName: 'p', pluginVersion: '', maxAttempts: 0 };

  it('inserts the batch and its jobs in order, across insert chunks', async () => {
    const res = await enqueueBatch(db, { id: 'b1', pluginName: 'p', pluginVersion: '1' }, jobs('j', 1234), T0);
    assert.deepEqual(res, { batchId: 'b1', jobIds: jobs('j', 1234).map((j) => j.id), created: true });
    assert.equal((await getBatch(db, 'b1'))?.total, 1234);
    const listed = await listJobs(db, { batchId: 'b1', limit: 2000 });
    assert.equal(listed.length, 1234);
    assert.ok(listed.every((r) => r.batch_id === 'b1' && r.state === 'queued'));
    assert.deepEqual(listed.map((r) => r.id).reverse(), res.jobIds, 'newest first, so reversed: the request order');
  });

  it('is all or nothing: one bad row leaves no batch and no job', async () => {
    await enqueueBatch(db, { id: 'b1', pluginName: 'p', pluginVersion: '1' }, [newJob('taken')], T0);
    await assert.rejects(enqueueBatch(db, { id: 'b2', pluginName: 'p', pluginVersion: '1' }, [...jobs('x', 600), newJob('taken')], T0), /UNIQUE|unique constraint/);
    assert.equal(await getBatch(db, 'b2'), undefined);
    assert.equal((await listJobs(db, { limit: 2000 })).length, 1);
  });

  it('an idempotency key returns the first batch for the same request and refuses a different one', async () => {
    const fp = batchFingerprint({ ...req, inputPaths: ['/in/0.csv', '/in/1.csv'] });
    const first = await enqueueBatch(db, { id: 'b1', pluginName: 'p', pluginVersion: '1', idempotencyKey: 'k', submitFingerprint: fp }, jobs('a', 2), T0);
    const again = await enqueueBatch(db, { id: 'b2', pluginName: 'p', pluginVersion: '1', idempotencyKey: 'k', submitFingerprint: fp }, jobs('b', 2), T0);
    assert.deepEqual(again, { batchId: 'b1', jobIds: first.jobIds, created: false });
    const other = batchFingerprint({ ...req, inputPaths: ['/in/1.csv', '/in/0.csv'] });
    assert.notEqual(other, fp, 'the order of the paths is part of the request');
    await assert.rejects(
      enqueueBatch(db, { id: 'b3', pluginName: 'p', pluginVersion: '1', idempotencyKey: 'k', submitFingerprint: other }, jobs('c', 2), T0),
      (e: unknown) => e instanceof IdempotencyKeyConflict && /already names batch b1/.test(e.message),
    );
    assert.equal((await listJobs(db, { limit: 10 })).length, 2);
  });
});

describe('unit: migration 5 (batches)', () => {
  it('adds the batches table and a null batch_id to existing jobs', async () => {
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
    try {
      await sql`create table schema_migrations (id integer primary key, name text not null, applied_at integer not null)`.execute(db);
      for (const m of MIGRATIONS.filter((x) => x.id <= 4)) {
        await m.up(db, columnTypes('sqlite'));
        await sql`insert into schema_migrations (id, name, applied_at) values (${m.id}, ${m.name}, 0)`.execute(db);
      }
      await sql`insert into jobs (id, plugin_name, plugin_version, env_hash, input_path, state, max_attempts, run_at, timeouts_json, created_at, updated_at)
                values ('old', 'p', '1', 'e', '/in', 'queued', 3, 0, '{}', 0, 0)`.execute(db);
      assert.deepEqual(await migrate(db), MIGRATIONS.filter((m) => m.id >= 5).map((m) => m.id));
      assert.deepEqual((await sql<{ batch_id: string | null }>`select batch_id from jobs`.execute(db)).rows, [{ batch_id: null }]);
      await enqueueBatch(db as Db, { id: 'b1', pluginName: 'p', pluginVersion: '1' }, [newJob('new')], T0);
      assert.deepEqual((await listJobs(db as Db, { batchId: 'b1', limit: 10 })).map((r) => r.id), ['new']);
    } finally {
      await db.destroy();
    }
  });
});
