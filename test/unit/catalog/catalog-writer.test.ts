/** The catalog file: real DuckDB, real Parquet files in a temp data dir, names from a stub. */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '../../../services/common/logger';
import { CatalogWriter } from '../../../services/sentinel/catalog/catalog-writer';
import { readOnlyQuery, writeParquet } from '../../helpers/parquet-files';

const views = "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name";

describe('unit: catalog file (CatalogWriter)', () => {
  let dir: string;
  let outputs: string;
  let file: string;
  let names: string[];
  let writer: CatalogWriter;
  const warnings: string[] = [];
  const logger = new Logger({ level: 'warn', format: 'json', write: (line) => void warnings.push(line) });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cf-catalog-'));
    outputs = path.join(dir, 'outputs');
    file = path.join(dir, 'catalog.duckdb');
    names = ['orders'];
    warnings.length = 0;
    await writeParquet({
      [path.join(outputs, 'j1', 'attempt-1', 'orders.parquet')]: 'SELECT range AS id FROM range(3)',
      [path.join(outputs, 'j2', 'attempt-2', 'orders.parquet')]: "SELECT range AS id, 'x' AS note FROM range(4)",
      // an attempt being received: in staging, never in a view
      [path.join(dir, 'staging', 'j3.attempt-1.99-ab', 'orders.parquet')]: 'SELECT range AS id FROM range(100)',
    });
    writer = new CatalogWriter({ file, outputsRoot: outputs, listNames: async () => names, logger, retryMs: 100 });
  });
  afterEach(async () => {
    await writer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes one view per dataset over its committed files only, union by column name', async () => {
    writer.schedule();
    await writer.idle();
    assert.deepEqual(await readOnlyQuery(file, views), [['orders']]);
    assert.deepEqual(await readOnlyQuery(file, 'SELECT count(*), count(note) FROM orders'), [['7', '4']]);
    // a glob: a later commit of a known name is visible without a rewrite
    await writeParquet({ [path.join(outputs, 'j4', 'attempt-1', 'orders.parquet')]: 'SELECT 9 AS id' });
    writer.committed(['orders']);
    await writer.idle();
    assert.equal(writer.writes, 1, 'no rewrite for a known name');
    assert.deepEqual(await readOnlyQuery(file, 'SELECT count(*) FROM orders'), [['8']]);
  });

  it('adds the view of a new dataset after its first commit, and drops one whose jobs are all gone', async () => {
    writer.schedule();
    await writer.idle();
    await writeParquet({ [path.join(outputs, 'j5', 'attempt-1', 'orders_quarantine.parquet')]: "SELECT 1 AS id, 'bad' AS _cf_reason" });
    names = ['orders', 'orders_quarantine'];
    writer.committed(['orders', 'orders_quarantine']);
    await writer.idle();
    assert.equal(writer.writes, 2);
    assert.deepEqual(await readOnlyQuery(file, views), [['orders'], ['orders_quarantine']]);
    assert.deepEqual(await readOnlyQuery(file, 'SELECT _cf_reason FROM orders_quarantine'), [['bad']]);

    fs.rmSync(path.join(outputs, 'j5'), { recursive: true });
    names = ['orders'];
    writer.removed();
    await writer.idle();
    assert.deepEqual(await readOnlyQuery(file, views), [['orders']]);
  });

  it('retries while an outside process reads the file, and never throws to the caller', async function () {
    writer.schedule();
    await writer.idle();
    // another process holds the file open read-only for a while
    const script = `const { DuckDBInstance } = require('@duckdb/node-api');
      DuckDBInstance.create(${JSON.stringify(file)}, { access_mode: 'READ_ONLY' }).then(() => { process.stdout.write('open\\n'); setTimeout(() => process.exit(0), 1500); });`;
    const reader: ChildProcess = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => reader.stdout!.once('data', () => resolve()));
    await writeParquet({ [path.join(outputs, 'j6', 'attempt-1', 'events.parquet')]: 'SELECT 1 AS n' });
    names = ['events', 'orders'];
    writer.committed(['events']);
    await writer.idle();
    assert.equal(writer.writes, 1, 'the locked file was not written');
    assert.ok(warnings.some((w) => w.includes('could not update the catalog file')), warnings.join('\n'));
    await new Promise<void>((resolve) => reader.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (writer.writes < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await writer.idle();
    assert.deepEqual(await readOnlyQuery(file, views), [['events'], ['orders']]);
  });
});
