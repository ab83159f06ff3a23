/**
 * Datasets and queries end to end: a real Sentinel and worker, real plugins and
 * pyarrow, the real CLI. `casparian outputs` lists what jobs committed;
 * `casparian query` runs DuckDB SQL over it on the Sentinel (a quarantine view,
 * lineage filters, three formats, refused statements); the catalog file, read
 * by a separate read-only DuckDB connection in this process, has the same views
 * and counts, gains a view when a new output name is first committed, and loses
 * it when a purge removes the dataset's last job.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli, type CliResult } from '../helpers/cli-run';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { readOnlyQuery } from '../helpers/parquet-files';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

const ORDERS = `
import csv
import pyarrow as pa
import casparian

OUTPUTS = {"orders": [("order_id", "int64", False), ("amount", "decimal128(12, 2)", True)]}
QUARANTINE = {"orders": {"max_fraction": 0.5}}


def parse(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {h: [r[i] or None for r in body] for i, h in enumerate(header)}
    return casparian.Output("orders", pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()}))
`;

const VIEWS = 'SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name';

describe('e2e: datasets, casparian outputs and casparian query (real processes, real pyarrow, real DuckDB)', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  /** The catalog file read by this process once `ready(rows of VIEWS)` holds (the Sentinel writes it off the commit path). */
  async function catalogWhen(c: ProcCluster, ready: (views: string[]) => boolean): Promise<string[]> {
    const file = path.join(c.dataDir, 'catalog.duckdb');
    const deadline = Date.now() + 30_000;
    let last: unknown;
    for (;;) {
      try {
        const views = (await readOnlyQuery(file, VIEWS)).map((r) => String(r[0]));
        if (ready(views)) return views;
        last = views;
      } catch (err) {
        last = err; // not written yet, or the Sentinel is writing it right now
      }
      if (Date.now() > deadline) assert.fail(`the catalog file never got there; last: ${String(last)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  clusters.it('lists datasets, queries them in every format, keeps the catalog file current, forgets purged jobs', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'] }));
    await c.publish('orders', ORDERS);
    await c.publish('values', faultPlugin('values.py'));
    const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--sentinel', c.address]);
    const ok = async (...args: string[]): Promise<string> => {
      const r = await cli(...args);
      assert.equal(r.code, 0, showCli(r));
      return r.stdout;
    };

    // before any commit
    assert.match(await ok('outputs'), /no datasets yet/);
    const none = await cli('query', 'select count(*) from orders');
    assert.equal(none.code, 1, showCli(none));
    assert.match(none.stderr, /INVALID_ARGUMENT: Catalog Error: .*orders[\s\S]*no dataset exists yet/);

    // two orders jobs, one with a bad row (quarantined)
    const j1 = await c.waitJob((await c.submit('orders', c.input('a.csv', 'order_id,amount\n1,10.50\n2,oops\n3,\n'))).id);
    const j2 = await c.waitJob((await c.submit('orders', c.input('b.csv', 'order_id,amount\n4,1.25\n5,2.00\n'))).id);
    for (const j of [j1, j2]) assert.equal(j.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(j.error));
    assert.deepEqual(j1.outputs.map((o) => [o.name, o.rows]), [['orders', 2], ['orders_quarantine', 1]]);

    const listed = JSON.parse(await ok('outputs', '--json')) as { datasets: { name: string; jobs: number; rows: number; schemas: { columns: { name: string; type: string }[]; jobs: number }[]; producers: { pluginName: string }[] }[] };
    assert.deepEqual(listed.datasets.map((d) => [d.name, d.jobs, Number(d.rows)]), [['orders', 2, 4], ['orders_quarantine', 1, 1]]);
    const orders = listed.datasets[0];
    assert.equal(orders.schemas.length, 1);
    assert.equal(orders.schemas[0].jobs, 2);
    assert.deepEqual(orders.schemas[0].columns.map((col) => `${col.name} ${col.type}`), [
      'order_id Int64', 'amount Decimal[12e+2]', '_cf_job_id Dictionary<Int8, Utf8>', '_cf_source_hash Dictionary<Int8, Utf8>', '_cf_plugin_version Dictionary<Int8, Utf8>',
    ]);
    assert.deepEqual(orders.producers.map((p) => p.pluginName), ['orders']);
    assert.ok(listed.datasets[1].schemas[0].columns.some((col) => col.name === '_cf_reason'));
    const text = await ok('outputs');
    assert.match(text, /^orders\s+2\s+4\s/m);
    assert.match(text, /^orders_quarantine\s+1\s+1\s/m);
    assert.match(text, /2 jobs: order_id Int64, amount Decimal\[12e\+2\]/);
    assert.equal((await ok('outputs', '--plugin', 'values', '--json')).includes('"name"'), false, 'no dataset of values yet');

    // queries in each format; a quarantine view; a lineage filter
    assert.equal(await ok('query', 'select count(*) as n, sum(amount) as total from orders', '--format', 'csv'), 'n,total\r\n4,13.75\r\n');
    assert.equal(await ok('query', `select count(*) as n from orders where _cf_job_id = '${j1.id}'`, '--format', 'json'), '{"n":"2"}\n');
    assert.equal(await ok('query', 'select count(distinct _cf_job_id)::int as jobs from orders', '--format', 'json'), '{"jobs":2}\n');
    const q = await ok('query', 'select order_id, _cf_reason from orders_quarantine', '--format', 'json');
    const quarantined = JSON.parse(q.trim()) as { order_id: string; _cf_reason: string };
    assert.equal(quarantined.order_id, '2');
    assert.match(quarantined._cf_reason, /amount/);
    const table = await ok('query', 'select order_id, amount from orders order by order_id');
    assert.match(table, /order_id \| amount/);
    assert.match(table, /^\s+5 \| 2\.00$/m);

    // the catalog file: same views and counts, seen by a separate read-only connection
    const file = path.join(c.dataDir, 'catalog.duckdb');
    assert.deepEqual(await catalogWhen(c, (v) => v.includes('orders_quarantine')), ['orders', 'orders_quarantine']);
    assert.deepEqual(await readOnlyQuery(file, 'SELECT count(*) FROM orders'), [['4']]);
    assert.deepEqual(await readOnlyQuery(file, `SELECT count(*) FROM orders WHERE _cf_job_id = '${j2.id}'`), [['2']]);
    assert.deepEqual(await readOnlyQuery(file, 'SELECT count(*) FROM orders_quarantine'), [['1']]);

    // errors: bad SQL, an unknown view (the message lists the datasets), statements that are not queries
    const bad = await cli('query', 'selec 1');
    assert.equal(bad.code, 1, showCli(bad));
    assert.match(bad.stderr, /INVALID_ARGUMENT: Parser Error: syntax error/);
    const unknown = await cli('query', 'select * from order_lines');
    assert.match(unknown.stderr, /INVALID_ARGUMENT: Catalog Error[\s\S]*the datasets: orders, orders_quarantine/);
    for (const [sql, why] of [
      ['create table t as select 1', /only a read-only query .*CREATE/],
      ["copy orders to 'stolen.csv'", /Permission Error|only a read-only query/],
      ["select * from read_csv('/etc/passwd')", /Permission Error/],
    ] as const) {
      const r = await cli('query', sql);
      assert.equal(r.code, 1, showCli(r));
      assert.match(r.stderr, /INVALID_ARGUMENT/, showCli(r));
      assert.match(r.stderr, why, showCli(r));
    }

    // a new dataset name appears in the catalog after its first commit
    await new Promise((r) => setTimeout(r, 8000)); // so that a purge by age (6 s) takes the orders jobs and not the next one
    const v = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'v.csv', 5))).id);
    assert.equal(v.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(v.error));
    assert.deepEqual(await catalogWhen(c, (views) => views.includes('default')), ['default', 'orders', 'orders_quarantine']);

    // purge the orders jobs (older than 6 s; the values job, just done, is younger): their rows and views go
    assert.equal((await cli('purge', '--older-than', '6s')).code, 0);
    assert.deepEqual(JSON.parse(await ok('outputs', '--json')).datasets.map((d: { name: string }) => d.name), ['default']);
    const gone = await cli('query', 'select count(*) from orders');
    assert.match(gone.stderr, /Catalog Error[\s\S]*the datasets: default/, showCli(gone));
    assert.deepEqual(await catalogWhen(c, (views) => !views.includes('orders')), ['default']);
    assert.deepEqual(await readOnlyQuery(file, 'SELECT count(*) FROM "default"'), [['5']]);
    assert.equal(await ok('query', 'select count(*) as n from "default"', '--format', 'csv'), 'n\r\n5\r\n');
  });
});
