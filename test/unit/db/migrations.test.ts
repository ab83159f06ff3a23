import { strict as assert } from 'node:assert';
import { sql } from 'kysely';
import { MIGRATIONS, migrate } from '../../../services/sentinel/db/migrations';
import { openDatabase } from '../../../services/sentinel/db/open-database';
import { STORES, freshStoreTarget } from '../../helpers/stores';

/** The tables and columns of a store, as `table.column` (names only: types differ by dialect on purpose). */
async function columns(db: Awaited<ReturnType<typeof openDatabase>>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables.flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}`)).sort();
}

describe('unit: migrations on both stores', () => {
  let sqliteColumns: string[] = [];

  for (const store of STORES) {
    it(`run from empty on ${store}, record every migration once, and do nothing the second time`, async () => {
      const target = await freshStoreTarget(store);
      const db = await openDatabase(target);
      try {
        const applied = (await sql<{ id: number }>`select id from schema_migrations order by id`.execute(db)).rows.map((r) => Number(r.id));
        assert.deepEqual(applied, MIGRATIONS.map((m) => m.id));
        assert.deepEqual(await migrate(db), [], 'nothing left to apply');
        const cols = await columns(db);
        if (store === 'sqlite') sqliteColumns = cols;
        else assert.deepEqual(cols, sqliteColumns, 'the same tables and columns as on SQLite');
        // Times in milliseconds since the epoch and serial keys must fit: 64-bit integers on both.
        await db
          .insertInto('job_logs')
          .values({ job_id: 'j', attempt: 1, level: 'info', source: 'worker', message: 'm', time: 4_102_444_800_000 })
          .execute();
        const row = await db.selectFrom('job_logs').selectAll().executeTakeFirstOrThrow();
        assert.equal(row.time, 4_102_444_800_000);
        assert.equal(typeof row.id, 'number');
      } finally {
        await db.destroy();
      }
    });
  }

  it('on postgres, replicas that start together migrate once (advisory lock), and both open the store', async () => {
    const target = await freshStoreTarget('postgres');
    const dbs = await Promise.all([openDatabase(target), openDatabase(target), openDatabase(target)]);
    try {
      const rows = (await sql<{ id: number; n: number }>`select id, count(*) as n from schema_migrations group by id order by id`.execute(dbs[0])).rows;
      assert.deepEqual(rows.map((r) => [Number(r.id), Number(r.n)]), MIGRATIONS.map((m) => [m.id, 1]));
    } finally {
      await Promise.all(dbs.map((d) => d.destroy()));
    }
  });
});
