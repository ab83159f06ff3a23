/**
 * Sink routes end to end (real Sentinel and worker processes, real pyarrow):
 * `casparian publish --sink` routes an output to a Hive-style Parquet
 * dataset, Arrow IPC stream files and a SQLite table; modes append, replace
 * and error; bad routes refused at publish; a failed attempt delivers
 * nothing; and a kill -9 of the Sentinel right after a commit to two sinks
 * leaves each sink with the whole job or none of it, caught up exactly once
 * after the restart.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { faultPlugin, writeCsv } from '../helpers/data-fixtures';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { SHARED_LOCKFILE } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';

describe('e2e: sink routes (real processes, real pyarrow)', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  async function cluster(): Promise<ProcCluster> {
    return clusters.track(await ProcCluster.start({ workers: ['w1'] }));
  }

  async function publish(c: ProcCluster, name: string, ...sinks: string[]): Promise<void> {
    const file = path.join(c.root, `${name}.py`);
    fs.writeFileSync(file, faultPlugin('values.py'));
    const lock = path.join(c.root, 'requirements.lock');
    fs.writeFileSync(lock, SHARED_LOCKFILE);
    const r = await runCli(['publish', file, '--lockfile', lock, '--name', name, '--version', '1.0.0', '--sentinel', c.address, ...sinks.flatMap((s) => ['--sink', s])], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, showCli(r));
  }

  async function delivered(c: ProcCluster, jobId: string): Promise<Job> {
    return waitFor(
      `job ${jobId}'s outputs delivered`,
      async () => {
        const j = await c.getJob(jobId);
        return j.sinkDeliveries.length && j.sinkDeliveries.every((d) => d.state === 'delivered') ? j : undefined;
      },
      60_000,
      100,
    );
  }

  const sqliteRows = (file: string, table: string): Record<string, unknown>[] => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(`select * from "${table}" order by _cf_job_id, id`).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };

  clusters.it('parquet dataset, arrow files and a sqlite table, appended job by job, each row with its lineage', async () => {
    const c = await cluster();
    await publish(c, 'values', 'default=parquet:ds', 'default=arrow:arrows', 'default=sqlite:out.db');
    const plugins = (await c.client.listPlugins({ name: 'values' })).plugins;
    assert.deepEqual(plugins[0].sinks.map((s) => `${s.output}=${s.kind}:${s.target}?${s.mode}`), ['default=parquet:ds?append', 'default=arrow:arrows?append', 'default=sqlite:out.db?append']);

    const jobs: Job[] = [];
    for (const [i, n] of [3, 5].entries()) {
      const done = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, `in-${i}.csv`, n, i))).id);
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
      jobs.push(await delivered(c, done.id));
    }
    const sinks = path.join(c.dataDir, 'sinks');
    const parts = fs.readdirSync(path.join(sinks, 'ds', 'default')).sort();
    assert.deepEqual(parts, jobs.map((j) => `part-${j.id}.parquet`).sort(), 'DIR/{output}/part-{job}.parquet, nothing else (no temporary files)');
    for (const [k, j] of jobs.entries()) {
      const t = tableFromIPC(readParquet(fs.readFileSync(path.join(sinks, 'ds', 'default', `part-${j.id}.parquet`))).intoIPCStream());
      assert.equal(t.numRows, [3, 5][k]);
      assert.equal(String(t.get(0)?._cf_job_id), j.id);
      const arrows = tableFromIPC(fs.readFileSync(path.join(sinks, 'arrows', 'default', `part-${j.id}.arrows`)));
      assert.equal(arrows.numRows, [3, 5][k]);
    }
    const rows = sqliteRows(path.join(sinks, 'out.db'), 'default');
    assert.equal(rows.length, 8);
    for (const j of jobs) assert.equal(rows.filter((r) => r._cf_job_id === j.id).length, Number(j.metrics?.rows));
    assert.deepEqual(Object.keys(rows[0]).sort(), ['_cf_job_id', '_cf_plugin_version', '_cf_source_hash', 'doubled', 'id', 'value'].sort());

    const detail = await runCli(['job', jobs[0].id, '--sentinel', c.address], { timeoutMs: 30_000 });
    assert.match(detail.stdout, /^sink\s+default → sqlite:out\.db: delivered$/m, showCli(detail));
  });

  clusters.it('replace keeps only the newest job; error fails the second job with SINK_CONFLICT and commits nothing', async () => {
    const c = await cluster();
    await publish(c, 'values', 'default=sqlite:rep.db?mode=replace', 'default=parquet:once?mode=error');
    const first = await delivered(c, (await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'a.csv', 4, 1))).id)).id);
    const second = await c.waitJob((await c.submit('values', writeCsv(c.inputDir, 'b.csv', 2, 2), { maxAttempts: 3 })).id);
    assert.equal(second.state, JobState.JOB_STATE_FAILED);
    assert.equal(second.error?.code, 'SINK_CONFLICT');
    assert.equal(second.attempt, 1, 'not retried');
    assert.match(second.error!.message, /sink parquet:once already holds output "default" and its mode is error; nothing was committed/);
    assert.deepEqual(c.attemptDirs(second.id), []);
    assert.deepEqual([...new Set(sqliteRows(path.join(c.dataDir, 'sinks', 'rep.db'), 'default').map((r) => r._cf_job_id))], [first.id]);

    await publish(c, 'values2', 'default=sqlite:rep.db?mode=replace');
    const third = await delivered(c, (await c.waitJob((await c.submit('values2', writeCsv(c.inputDir, 'c.csv', 2, 3))).id)).id);
    assert.deepEqual([...new Set(sqliteRows(path.join(c.dataDir, 'sinks', 'rep.db'), 'default').map((r) => r._cf_job_id))], [third.id], 'replaced');
  });

  clusters.it('bad routes are refused at publish; a failed attempt delivers nothing', async () => {
    const c = await cluster();
    const bad: [string, RegExp][] = [
      ['default=csv:x', /kind must be parquet, arrow, sqlite/],
      ['default=parquet:/etc/evil', /an absolute target must lie in one of the Sentinel's --sink-root directories/],
      ['default=parquet:../../escape', /may not leave the sinks directory/],
      ['default=parquet:x?mode=upsert', /mode must be append, replace, error/],
      ['Default=parquet:x', /output name/],
    ];
    for (const [spec, expected] of bad) {
      const err = await c.client
        .publishPlugin({ name: 'bad', version: '1.0.0', source: faultPlugin('values.py'), lockfile: SHARED_LOCKFILE, manifest: undefined, signature: Buffer.alloc(0), signingKeyId: '', sinks: [(await import('../../services/sentinel/sinks/routes')).parseSinkSpec(spec)] })
        .then(() => undefined, (e: grpc.ServiceError) => e);
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, spec);
      assert.match(err!.details, expected, spec);
    }
    const usage = await runCli(['publish', 'x.py', '--lockfile', 'x', '--sink', 'nonsense', '--sentinel', c.address], { timeoutMs: 30_000 });
    assert.equal(usage.code, 2, showCli(usage));
    assert.match(usage.stderr, /expected OUTPUT=KIND:TARGET/);

    await publish(c, 'values', 'default=sqlite:out.db', 'default=parquet:ds');
    const failed = await c.waitJob((await c.submit('values', c.input('broken.csv', 'not,a,number\n'), { maxAttempts: 1 })).id);
    assert.notEqual(failed.state, JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(failed.sinkDeliveries, []);
    assert.equal(fs.existsSync(path.join(c.dataDir, 'sinks')), false, 'no sink was touched');
  });

  clusters.it('kill -9 right after a commit to two sinks: each holds the whole job or none of it, and the restart delivers it exactly once', async () => {
    const c = await cluster();
    await publish(c, 'values', 'default=sqlite:big.db', 'default=parquet:bigds');
    const n = 200_000;
    const job = await c.submit('values', writeCsv(c.inputDir, 'big.csv', n, 7));
    await waitFor('the commit', async () => (await c.getJob(job.id)).state === JobState.JOB_STATE_SUCCEEDED, 300_000, 10);
    await c.sentinel!.kill9();
    const db = path.join(c.dataDir, 'sinks', 'big.db');
    const rowsNow = fs.existsSync(db) ? countRows(db) : 0;
    assert.ok(rowsNow === 0 || rowsNow === n, `after kill -9 the table holds ${rowsNow} rows: all or nothing`);
    const part = path.join(c.dataDir, 'sinks', 'bigds', 'default');
    const partsNow = fs.existsSync(part) ? fs.readdirSync(part) : [];
    assert.ok(partsNow.every((f) => f === `part-${job.id}.parquet` || f.startsWith('.')), JSON.stringify(partsNow));
    console.log(`      at kill -9: ${rowsNow} rows in the table, ${partsNow.length} files in the dataset`);

    await c.startSentinel();
    const done = await delivered(c, job.id);
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(countRows(db), n, 'exactly once');
    assert.deepEqual(fs.readdirSync(part), [`part-${job.id}.parquet`], 'no temporary file left');
  });
});

function countRows(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const t = db.prepare("select 1 from sqlite_master where name = 'default'").get();
    return t ? (db.prepare('select count(*) as n from "default"').get() as { n: number }).n : 0;
  } finally {
    db.close();
  }
}
