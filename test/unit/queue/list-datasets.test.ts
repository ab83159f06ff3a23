/** listDatasets and listDatasetFiles over committed outputs, on an in-memory SQLite. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import type { Db } from '../../../services/sentinel/db/open-database';
import { claimJob, completeAttempt, enqueueJob, listDatasetFiles, listDatasetNames, listDatasets, type CommittedOutput } from '../../../services/sentinel/queue';
import { METRICS, T0, newJob } from './fixtures';

const A = [{ name: 'id', type: 'Int64', nullable: true }];
const B = [...A, { name: 'amount', type: 'Float64', nullable: true }];

function out(name: string, rows: number, columns = A): CommittedOutput {
  return { name, rows, sizeBytes: rows * 10, parquetPath: `/d/outputs/x/attempt-1/${name}.parquet`, columns };
}

for (const store of STORES) describe(`unit: datasets (listDatasets) [${store}]`, () => {
  let db: Db;
  beforeEach(async () => {
    db = await openTestDb(store);
  });
  afterEach(() => db.destroy());

  async function commit(id: string, plugin: [string, string], outputs: CommittedOutput[], at: number): Promise<void> {
    await enqueueJob(db, newJob(id, { pluginName: plugin[0], pluginVersion: plugin[1] }), at);
    const row = await claimJob(db, { jobId: id, workerId: 'w', leaseToken: `L-${id}`, leaseMs: 1000 }, at);
    assert.ok(row);
    assert.ok(await completeAttempt(db, { jobId: id, attempt: row.attempt, leaseToken: `L-${id}` }, outputs.map((o) => ({ ...o, parquetPath: o.parquetPath.replace('/x/', `/${id}/`) })), METRICS, at));
  }

  it('groups outputs by name across jobs and plugins, with totals, schemas and producers', async () => {
    await commit('j1', ['p', '1'], [out('orders', 3), out('orders_quarantine', 1)], T0);
    await commit('j2', ['p', '2'], [out('orders', 5, B)], T0 + 10);
    await commit('j3', ['q', '1'], [out('orders', 7, B), out('events', 2)], T0 + 20);
    await enqueueJob(db, newJob('queued'), T0); // no outputs: no effect

    const all = await listDatasets(db);
    assert.deepEqual(all.map((d) => d.name), ['events', 'orders', 'orders_quarantine']);
    const orders = all.find((d) => d.name === 'orders')!;
    assert.equal(orders.jobs, 3);
    assert.equal(orders.rows, 15);
    assert.equal(orders.sizeBytes, 150);
    assert.equal(orders.lastCommittedAt, T0 + 20);
    assert.deepEqual(orders.schemas, [
      { columns: B, jobs: 2 },
      { columns: A, jobs: 1 },
    ]);
    assert.deepEqual(orders.producers, [
      { pluginName: 'p', pluginVersion: '1', jobs: 1 },
      { pluginName: 'p', pluginVersion: '2', jobs: 1 },
      { pluginName: 'q', pluginVersion: '1', jobs: 1 },
    ]);
    assert.equal(all.find((d) => d.name === 'orders_quarantine')!.rows, 1);

    const ofP = await listDatasets(db, { pluginName: 'p' });
    assert.deepEqual(ofP.map((d) => [d.name, d.jobs, d.rows]), [['orders', 2, 8], ['orders_quarantine', 1, 1]]);
    assert.deepEqual(await listDatasets(db, { pluginName: 'nobody' }), []);

    assert.deepEqual(await listDatasetNames(db), ['events', 'orders', 'orders_quarantine']);
    const files = await listDatasetFiles(db);
    assert.deepEqual(files.get('orders'), ['/d/outputs/j1/attempt-1/orders.parquet', '/d/outputs/j2/attempt-1/orders.parquet', '/d/outputs/j3/attempt-1/orders.parquet']);
  });

  it('is empty before any commit', async () => {
    assert.deepEqual(await listDatasets(db), []);
    assert.equal((await listDatasetFiles(db)).size, 0);
  });
});
