/** throughput(): jobs finished per minute and final state, on both stores. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import type { Db } from '../../../services/sentinel/db/open-database';
import { enqueueJob, throughput } from '../../../services/sentinel/queue';
import type { JobStateName } from '../../../services/sentinel/db/schema';
import { newJob, T0 } from './fixtures';

const MIN = 60_000;
const NOW = Math.floor(T0 / MIN) * MIN + 30_000; // half past a minute

for (const store of STORES) describe(`unit: throughput [${store}]`, () => {
  let db: Db;
  beforeEach(async () => {
    db = await openTestDb(store);
  });
  afterEach(() => db.destroy());

  async function finished(id: string, state: JobStateName, at: number, pluginName = 'p'): Promise<void> {
    await enqueueJob(db, newJob(id, { pluginName }), at - 1000);
    await db.updateTable('jobs').set({ state, finished_at: at }).where('id', '=', id).execute();
  }

  it('counts final jobs per minute of the window, oldest first, empty minutes included', async () => {
    await finished('a', 'succeeded', NOW - 10_000); // this minute
    await finished('b', 'succeeded', NOW - 20_000); // this minute
    await finished('c', 'failed', NOW - MIN); // one minute back
    await finished('d', 'dead_letter', NOW - 2 * MIN);
    await finished('e', 'cancelled', NOW - 2 * MIN, 'other');
    await finished('old', 'succeeded', NOW - 3 * MIN); // before a 3-minute window
    await enqueueJob(db, newJob('queued'), NOW); // not final: not counted

    const b = await throughput(db, { minutes: 3, now: NOW });
    assert.deepEqual(b.map((x) => x.start), [NOW - 30_000 - 2 * MIN, NOW - 30_000 - MIN, NOW - 30_000]);
    assert.deepEqual(b.map((x) => x.counts), [
      { succeeded: 0, failed: 0, cancelled: 1, dead_letter: 1 },
      { succeeded: 0, failed: 1, cancelled: 0, dead_letter: 0 },
      { succeeded: 2, failed: 0, cancelled: 0, dead_letter: 0 },
    ]);
    const p = await throughput(db, { minutes: 3, now: NOW, pluginName: 'other' });
    assert.deepEqual(p.map((x) => x.counts.cancelled), [1, 0, 0]);
    assert.equal((await throughput(db, { minutes: 5, now: NOW })).reduce((n, x) => n + x.counts.succeeded, 0), 3);
  });
});
