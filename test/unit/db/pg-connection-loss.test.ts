import { strict as assert } from 'node:assert';
import { sql } from 'kysely';
import { openDatabase } from '../../../services/sentinel/db/open-database';
import { testPg } from '../../helpers/pg-server';
import { freshPgDatabase } from '../../helpers/stores';

describe('unit: a PostgreSQL store losing its server', () => {
  it('a checked-out connection (an advisory lock held, a transaction) whose server restarts is reported, not fatal; the store works after', async () => {
    const pg = await testPg();
    if (!pg.canRestart) {
      // An external server (CASPARIAN_TEST_PG_URL) cannot be restarted from here; the private one always can.
      assert.ok(process.env.CASPARIAN_TEST_PG_URL, 'only an external server may be impossible to restart');
      return;
    }
    const errors: Error[] = [];
    const db = await openDatabase(await freshPgDatabase(), { onPoolError: (e) => errors.push(e) });
    try {
      // Hold one connection checked out and idle (as runExclusive does while its work runs on other connections).
      await db.connection().execute(async (conn) => {
        await sql`select 1`.execute(conn);
        await pg.restart();
        await new Promise((r) => setTimeout(r, 500)); // the 'error' event arrives while nothing runs on it
      });
      assert.ok(errors.length >= 1, 'the lost connection was reported');
      // The pool replaces what it lost.
      const r = await sql<{ n: number }>`select 1 as n`.execute(db);
      assert.equal(r.rows[0].n, 1);
    } finally {
      await db.destroy();
    }
  });
});
