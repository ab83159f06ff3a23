import { strict as assert } from 'node:assert';
import type { Db } from '../../../services/sentinel/db/open-database';
import { appendLogs, listLogs } from '../../../services/sentinel/queue';
import { STORES, openTestDb } from '../../helpers/stores';

for (const store of STORES) describe(`unit: job logs [${store}]`, () => {
  let db: Db;
  beforeEach(async () => (db = await openTestDb(store)));
  afterEach(() => db.destroy());

  it('keeps a line with a NUL byte (PostgreSQL text cannot hold one): the NUL becomes U+FFFD on every store', async () => {
    await appendLogs(db, [{ jobId: 'j', attempt: 1, level: 'info', source: 'plugin', message: 'a\0b', time: 1 }]);
    assert.deepEqual((await listLogs(db, 'j')).map((l) => l.message), ['a\uFFFDb']);
  });
});
