/**
 * Output contracts, quarantine and lineage end to end: real Sentinel and
 * worker processes, a real plugin that declares OUTPUTS and QUARANTINE, real
 * pyarrow. Strings are cast to the declared types; bad rows (a value that
 * does not cast, a null in a non-nullable column, a non-empty
 * `_cf_row_error`) go to `orders_quarantine` with the reason and the source
 * row; over the limit the job fails as QUARANTINE_LIMIT with nothing
 * committed; schema drift fails as SCHEMA_MISMATCH listing the columns;
 * every committed row carries its job id, input hash and plugin version, and
 * the Parquet file its artifact hash, env hash and input path.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { JobState } from '../../services/gen/casparian/v1/types';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { pyarrowPython } from '../helpers/python-env';

const PLUGIN = `
import csv
import pyarrow as pa
import casparian

OUTPUTS = {
    "orders": [
        ("order_id", "int64", False),
        ("amount", "decimal128(12, 2)", True),
        {"name": "ordered_at", "type": "timestamp[us]", "nullable": True},
    ],
}
QUARANTINE = {"orders": {"max_fraction": 0.5}}


def parse(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {h: [] for h in header}
    errors = []
    for r in body:
        errors.append("" if len(r) == len(header) else f"expected {len(header)} fields, got {len(r)}")
        r = (r + [None] * len(header))[: len(header)]
        for h, v in zip(header, r):
            cols[h].append(v if v != "" else None)
    cols["_cf_row_error"] = errors
    return casparian.Output("orders", pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()}))
`;

const HEADER = 'order_id,amount,ordered_at';
const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('e2e: output contracts, quarantine and lineage (real processes, real pyarrow)', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  async function cluster(): Promise<ProcCluster> {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'] }));
    await c.publish('orders', PLUGIN);
    return c;
  }

  async function rowsOf(c: ProcCluster, jobId: string, output: string): Promise<Record<string, unknown>[]> {
    const { ipc } = await c.client.fetchOutput(jobId, output);
    return tableFromIPC(ipc).toArray().map((r) => r.toJSON() as Record<string, unknown>);
  }

  clusters.it('declares at publish (shown by ListPlugins), casts on commit and stamps lineage on every row and file', async () => {
    const c = await cluster();
    const [plugin] = (await c.client.listPlugins({ name: 'orders' })).plugins;
    assert.deepEqual(plugin.contracts, [
      {
        output: 'orders',
        columns: [
          { name: 'order_id', type: 'int64', nullable: false },
          { name: 'amount', type: 'decimal128(12, 2)', nullable: true },
          { name: 'ordered_at', type: 'timestamp[us]', nullable: true },
        ],
        maxQuarantineFraction: 0.5,
        maxQuarantineRows: 0,
      },
    ]);

    const file = c.input('good.csv', `${HEADER}\n1,10.50,2024-01-01 10:00:00\n2,3.25,2024-01-02T11:30:00\n3,,\n`);
    const job = await c.waitJob((await c.submit('orders', file)).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.partial, false);
    assert.deepEqual(job.outputs.map((o) => [o.name, o.rows]), [['orders', 3]]);
    assert.deepEqual(
      job.outputs[0].columns.map((col) => [col.name, col.type, col.nullable]),
      [
        ['order_id', 'Int64', false],
        ['amount', 'Decimal[12e+2]', true],
        ['ordered_at', 'Timestamp<MICROSECOND>', true],
        ['_cf_job_id', 'Dictionary<Int8, Utf8>', false],
        ['_cf_source_hash', 'Dictionary<Int8, Utf8>', true],
        ['_cf_plugin_version', 'Dictionary<Int8, Utf8>', false],
      ],
    );
    const rows = await rowsOf(c, job.id, 'orders');
    assert.deepEqual(rows.map((r) => r.order_id), [1n, 2n, 3n]);
    for (const r of rows) {
      assert.equal(r._cf_job_id, job.id);
      assert.equal(r._cf_source_hash, sha256(file));
      assert.equal(r._cf_plugin_version, '1.0.0');
    }

    const parquet = path.join(c.dataDir, 'outputs', job.id, 'attempt-1', 'orders.parquet');
    const meta = JSON.parse(
      execFileSync(await pyarrowPython(), ['-c', 'import json,sys,pyarrow.parquet as pq; print(json.dumps({k.decode(): v.decode() for k, v in pq.read_metadata(sys.argv[1]).metadata.items() if k.startswith(b"casparian.")}))', parquet], { encoding: 'utf8' }),
    ) as Record<string, string>;
    assert.deepEqual(meta, {
      'casparian.job_id': job.id,
      'casparian.plugin': 'orders@1.0.0',
      'casparian.artifact_hash': plugin.artifactHash,
      'casparian.env_hash': plugin.envHash,
      'casparian.input_path': file,
    });
  });

  clusters.it('garbage rows go to orders_quarantine with reason and source row; the job succeeds partial within the limit', async () => {
    const c = await cluster();
    const file = c.input(
      'messy.csv',
      [
        HEADER,
        '1,1.00,2024-01-01 00:00:00',
        'x,2.00,2024-01-01 00:00:00',
        '3,3.00,2024-01-01 00:00:00',
        '4,abc,2024-01-01 00:00:00',
        '5,5.00',
        ',6.00,2024-01-01 00:00:00',
        '7,7.00,not a time',
        ...[8, 9, 10, 11].map((i) => `${i},${i}.00,2024-01-0${(i % 9) + 1} 00:00:00`),
        '',
      ].join('\n'),
    );
    const job = await c.waitJob((await c.submit('orders', file)).id);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    assert.equal(job.partial, true);
    assert.equal(job.quarantinedRows, 5);
    assert.deepEqual(job.outputs.map((o) => [o.name, o.rows]), [['orders', 6], ['orders_quarantine', 5]]);
    assert.deepEqual((await rowsOf(c, job.id, 'orders')).map((r) => r.order_id), [1n, 3n, 8n, 9n, 10n, 11n]);
    const aside = await rowsOf(c, job.id, 'orders_quarantine');
    assert.deepEqual(
      aside.map((r) => [r._cf_source_row, r.order_id, r._cf_reason]),
      [
        [1n, 'x', "order_id: 'x' is not a valid int64"],
        [3n, '4', "amount: 'abc' is not a valid decimal128(12, 2)"],
        [4n, '5', '_cf_row_error: expected 3 fields, got 2'],
        [5n, null, 'order_id: null in a non-nullable column'],
        [6n, '7', "ordered_at: 'not a time' is not a valid timestamp[us]"],
      ],
    );
    for (const r of aside) assert.equal(r._cf_source_hash, sha256(file));
    const listed = (await c.client.listJobs({ state: JobState.JOB_STATE_UNSPECIFIED, pluginName: 'orders', pageSize: 10, pageToken: '' })).jobs;
    assert.deepEqual(listed.map((j) => [j.id, j.partial, j.quarantinedRows]), [[job.id, true, 5]], 'ListJobs shows it too');
  });

  clusters.it('over the quarantine limit: QUARANTINE_LIMIT, permanent, nothing committed', async () => {
    const c = await cluster();
    const file = c.input('garbage.csv', `${HEADER}\n1,1.00,\nx,,\ny,,\n`);
    const job = await c.waitJob((await c.submit('orders', file, { maxAttempts: 3 })).id);
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.code, 'QUARANTINE_LIMIT');
    assert.equal(job.error?.retryable, false);
    assert.equal(job.attempt, 1, 'not retried');
    assert.match(job.error!.message, /output "orders": 2 of 3 rows quarantined \(66\.7%\), over max_fraction 0\.5; nothing was committed/);
    assert.deepEqual(job.outputs, []);
    assert.deepEqual(c.attemptDirs(job.id), []);
  });

  clusters.it('schema drift (an extra and a missing column) and a reserved column name fail as SCHEMA_MISMATCH, column by column', async () => {
    const c = await cluster();
    const drift = c.input('drift.csv', `order_id,amount,coupon\n1,1.00,SAVE10\n`);
    const job = await c.waitJob((await c.submit('orders', drift, { maxAttempts: 3 })).id);
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.code, 'SCHEMA_MISMATCH');
    assert.equal(job.attempt, 1, 'not retried');
    assert.equal(
      job.error?.message,
      "output 'orders' does not match its contract: column ordered_at: declared timestamp[us], missing from the output; column coupon: not declared (type string)",
    );
    assert.deepEqual(c.attemptDirs(job.id), []);

    const reserved = c.input('reserved.csv', `order_id,amount,ordered_at,_cf_job_id\n1,1.00,,forged\n`);
    const forged = await c.waitJob((await c.submit('orders', reserved)).id);
    assert.equal(forged.error?.code, 'SCHEMA_MISMATCH');
    assert.match(forged.error!.message, /column _cf_job_id: names starting with _cf_ are reserved/);
  });

  clusters.it('a bad declaration is INVALID_ARGUMENT at publish, naming it; the source is never run', async () => {
    const c = clusters.track(await ProcCluster.start());
    const marker = path.join(c.inputDir, 'imported');
    const prefix = `open(${JSON.stringify(marker)}, "w").close()\n`;
    const cases: [string, RegExp][] = [
      ['OUTPUTS = {"rows": [("id", "int65", False)]}', /OUTPUTS\["rows"\] column "id": unknown type "int65"/],
      ['OUTPUTS = {"rows": [("_cf_job_id", "string", False)]}', /column "_cf_job_id": names starting with _cf_ are reserved/],
      ['OUTPUTS = {"Rows": [("id", "int64", False)]}', /output name "Rows" must match \[a-z\]\[a-z0-9_\]\*/],
      ['OUTPUTS = {"rows_quarantine": [("id", "int64")]}', /ends with _quarantine/],
      ['OUTPUTS = {"rows": columns()}', /OUTPUTS \(line 2\) must be a literal/],
      ['OUTPUTS = {"rows": [("id", "int64", "no")]}', /nullable True or False/],
      ['QUARANTINE = {"rows": {"max_fraction": 2}}', /max_fraction must be a number from 0 to 1/],
    ];
    for (const [decl, expected] of cases) {
      const err = await c.publish('bad', `${prefix}${decl}\ndef parse(path):\n    return []\n`).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, decl);
      assert.match(err!.details, expected, decl);
    }
    assert.equal(fs.existsSync(marker), false, 'the plugin source was parsed, not run');
  });
});
