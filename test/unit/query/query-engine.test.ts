/** runQuery: a locked-down in-memory DuckDB over real Parquet files. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { runQuery, type QueryLimits } from '../../../services/sentinel/query/query-engine';
import { DatasetsChanged, InvalidQuery, QueryTimedOut } from '../../../services/sentinel/query/query-errors';
import { writeParquet } from '../../helpers/parquet-files';

const LIMITS: QueryLimits = { maxRows: 1000, maxBytes: 1 << 20, timeoutMs: 10_000, memoryLimit: '256MB', threads: 1 };

function rows(r: { batches: arrow.RecordBatch[]; schema: arrow.Schema }): unknown[][] {
  return new arrow.Table(r.schema, r.batches).toArray().map((row) => Object.values(row.toJSON()).map((v) => (typeof v === 'bigint' ? String(v) : v)));
}

describe('unit: query engine (runQuery)', () => {
  let dir: string;
  let datasets: Map<string, string[]>;
  let secret: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cf-query-'));
    const f1 = path.join(dir, 'outputs', 'j1', 'attempt-1', 'orders.parquet');
    const f2 = path.join(dir, 'outputs', 'j2', 'attempt-1', 'orders.parquet');
    const uncommitted = path.join(dir, 'outputs', 'j3', 'attempt-1', 'orders.parquet');
    await writeParquet({
      [f1]: "SELECT range AS id, 'j1' AS _cf_job_id FROM range(3)",
      [f2]: "SELECT range AS id, 2.5 AS amount, 'j2' AS _cf_job_id FROM range(5)",
      [uncommitted]: "SELECT range AS id, 'j3' AS _cf_job_id FROM range(100)",
    });
    secret = path.join(dir, 'secret.csv');
    fs.writeFileSync(secret, 'a,b\n1,2\n');
    datasets = new Map([['orders', [f1, f2]]]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads each dataset as a view over exactly its committed files', async () => {
    const r = await runQuery(datasets, 'SELECT _cf_job_id, count(*) AS n, count(amount) AS a FROM orders GROUP BY 1 ORDER BY 1', LIMITS);
    assert.deepEqual(rows(r), [['j1', '3', '0'], ['j2', '5', '5']]);
    assert.deepEqual(r.schema.fields.map((f) => String(f.type)), ['Utf8', 'Int64', 'Int64']);
    assert.equal(r.truncated, false);
    const described = await runQuery(datasets, 'DESCRIBE orders', LIMITS);
    assert.deepEqual(rows(described).map((row) => row[0]), ['id', '_cf_job_id', 'amount']);
  });

  it('cuts the result at max rows and says so', async () => {
    const r = await runQuery(datasets, 'SELECT * FROM range(5000)', { ...LIMITS, maxRows: 10 });
    assert.equal(r.rows, 10);
    assert.equal(r.truncated, true);
    const exact = await runQuery(datasets, 'SELECT * FROM range(10)', { ...LIMITS, maxRows: 10 });
    assert.equal(exact.truncated, false);
  });

  for (const [what, sql, expect] of [
    ['a second statement', 'SELECT 1; SELECT 2', /exactly one SQL statement/],
    ['CREATE', 'CREATE TABLE t AS SELECT 1', /only a read-only query.*CREATE/],
    ['COPY', `COPY (SELECT 1) TO '${path.join(os.tmpdir(), 'cf-query-copy.csv')}'`, /Permission Error|only a read-only query.*COPY/],
    ['SET', 'SET enable_external_access = true', /only a read-only query.*SET/],
    ['ATTACH', "ATTACH 'other.duckdb'", /only a read-only query.*ATTACH/],
    ['INSTALL', 'INSTALL httpfs', /only a read-only query.*LOAD/],
    ['a file outside the datasets', 'SELECT * FROM read_csv(SECRET)', /Permission Error/],
    ['an uncommitted file', "SELECT * FROM read_parquet('UNCOMMITTED')", /Permission Error/],
    ['a syntax error', 'SELEC 1', /syntax error/],
    ['an unknown table', 'SELECT * FROM nothing', /Catalog Error/],
  ] as const) {
    it(`refuses ${what} with InvalidQuery`, async () => {
      const text = sql.replace('SECRET', `'${secret}'`).replace('UNCOMMITTED', path.join(dir, 'outputs', 'j3', 'attempt-1', 'orders.parquet'));
      await assert.rejects(runQuery(datasets, text, LIMITS), (err: Error) => err instanceof InvalidQuery && expect.test(err.message));
    });
  }

  it('stops a query at its time limit (without the interrupt it would run for years)', async () => {
    await assert.rejects(runQuery(datasets, 'SELECT count(*) FROM range(1000000000000000000) a', { ...LIMITS, timeoutMs: 300 }), QueryTimedOut);
  });

  it('says the datasets changed when a listed file is gone (purged meanwhile)', async () => {
    const gone = new Map([['orders', [...datasets.get('orders')!, path.join(dir, 'outputs', 'purged', 'attempt-1', 'orders.parquet')]]]);
    await assert.rejects(runQuery(gone, 'SELECT 1', LIMITS), DatasetsChanged);
  });
});
