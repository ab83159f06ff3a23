/** copyStore between every pair of stores: every row as it was, serial counters carried over, all or nothing. */
import { strict as assert } from 'node:assert';
import { sql } from 'kysely';
import { COPIED_TABLES, CopyRowError, copyStore, SKIPPED_TABLES, TargetNotEmptyError, type TableProgress } from '../../../services/sentinel/db/copy-store';
import type { Db } from '../../../services/sentinel/db/open-database';
import { outputRootOf, parseOutputRootRewrite, rewriteOutputPath } from '../../../services/sentinel/db/output-paths';
import { appendLogs, enqueueJob } from '../../../services/sentinel/queue';
import { CONTENT_T0, dumpStore, fillStore } from '../../helpers/store-content';
import { openTestDb, STORES, type StoreName } from '../../helpers/stores';
import { newJob } from '../queue/fixtures';

const PAIRS: [StoreName, StoreName][] = STORES.flatMap((a) => STORES.map((b) => [a, b] as [StoreName, StoreName]));

describe('unit: copyStore', () => {
  const open: Db[] = [];
  const db = async (s: StoreName) => {
    const d = await openTestDb(s);
    open.push(d);
    return d;
  };
  afterEach(async () => {
    for (const d of open.splice(0)) await d.destroy();
  });

  for (const store of STORES) {
    it(`names every table of the migrated schema with its primary key, but the skipped ones [${store}]`, async () => {
      const d = await db(store);
      const q =
        store === 'sqlite'
          ? sql<{ t: string; c: string; n: number }>`select m.name as t, p.name as c, p.pk as n from sqlite_master m join pragma_table_info(m.name) p
              where m.type = 'table' and m.name not in ('schema_migrations', 'sqlite_sequence') and p.pk > 0`
          : sql<{ t: string; c: string; n: number }>`select tc.table_name as t, k.column_name as c, k.ordinal_position as n
              from information_schema.table_constraints tc join information_schema.key_column_usage k using (constraint_schema, constraint_name)
              where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = current_schema() and tc.table_name <> 'schema_migrations'`;
      const keys = new Map<string, string[]>();
      for (const r of (await q.execute(d)).rows.sort((a, b) => Number(a.n) - Number(b.n))) keys.set(r.t, [...(keys.get(r.t) ?? []), r.c]);
      for (const skipped of Object.keys(SKIPPED_TABLES)) assert.ok(keys.delete(skipped), `${skipped} (skipped) is a table`);
      assert.deepEqual(Object.fromEntries([...keys].sort()), Object.fromEntries(COPIED_TABLES.map((t) => [t.name, [...t.key]]).sort()));
    });
  }

  for (const [from, to] of PAIRS) {
    it(`${from} → ${to}: every row of every table, a page at a time; new rows in the target continue the source's keys`, async () => {
      const [src, dst] = [await db(from), await db(to)];
      await fillStore(src, { jobs: 10, logLinesPerJob: 3 });
      // The newest job is gone (purged): its seq must not be issued again, in the source or in the copy.
      const top = await src.selectFrom('jobs').select(['seq', 'id']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
      await src.deleteFrom('jobs').where('id', '=', top.id).execute();
      const before = await dumpStore(src);
      for (const t of COPIED_TABLES) assert.ok(before[t.name].length > 0, `the source has ${t.name} rows`);

      const progress: TableProgress[] = [];
      const report = await copyStore(src, dst, { pageSize: 4, onProgress: (p) => progress.push(p) });

      assert.deepEqual(await dumpStore(dst), before);
      assert.deepEqual(report.tables, COPIED_TABLES.map((t) => ({ table: t.name, rows: before[t.name].length })));
      const jobPages = progress.filter((p) => p.table === 'jobs' && !p.done).map((p) => p.copied);
      assert.deepEqual(jobPages, Array.from({ length: Math.ceil(before.jobs.length / 4) }, (_, i) => Math.min(4 * (i + 1), before.jobs.length)));
      assert.deepEqual(report.outputRoots, ['/var/lib/casparian']);

      const fresh = await enqueueJob(dst, newJob('after-copy'), CONTENT_T0 + 10_000_000);
      assert.equal(fresh.job.seq, top.seq + 1, 'the next seq is the one the source would have issued');
      assert.equal((await enqueueJob(src, newJob('after-copy'), CONTENT_T0)).job.seq, top.seq + 1, 'as the source does');
      await appendLogs(dst, [{ jobId: 'after-copy', attempt: 0, level: 'info', source: 'plugin', message: 'x', time: 1 }]);
      const maxLog = Math.max(...before.job_logs.map((r) => r.id as number));
      assert.equal((await dst.selectFrom('job_logs').select('id').where('job_id', '=', 'after-copy').executeTakeFirstOrThrow()).id, maxLog + 1);
    });

    it(`${from} → ${to}: a target holding rows is refused and left as it was`, async () => {
      const [src, dst] = [await db(from), await db(to)];
      await fillStore(src);
      await enqueueJob(dst, newJob('already-here'), CONTENT_T0);
      const before = await dumpStore(dst);
      await assert.rejects(copyStore(src, dst), (e: unknown) => e instanceof TargetNotEmptyError && e.rows.jobs === 1 && Object.keys(e.rows).length === 1);
      assert.deepEqual(await dumpStore(dst), before);
    });
  }

  it('sqlite → postgres: a row PostgreSQL refuses (a NUL in a log line) after several pages rolls everything back and is named', async () => {
    const [src, dst] = [await db('sqlite'), await db('postgres')];
    await fillStore(src, { jobs: 10, logLinesPerJob: 5 });
    // As a Sentinel stored such a line before log lines were made storable everywhere (queue/job-logs.ts).
    await src.insertInto('job_logs').values({ job_id: 'job-0002', attempt: 1, level: 'info', source: 'stdout', message: 'binary \u0000 garbage', time: CONTENT_T0 }).execute();
    const bad = await src.selectFrom('job_logs').select('id').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    const progress: TableProgress[] = [];
    await assert.rejects(copyStore(src, dst, { pageSize: 4, onProgress: (p) => progress.push(p) }), (e: unknown) => {
      assert.ok(e instanceof CopyRowError, String(e));
      assert.equal(e.table, 'job_logs');
      assert.match(e.message, new RegExp(`^job_logs row id=${bad.id}: the target refused it .*its message holds a NUL character`));
      return true;
    });
    assert.ok(progress.some((p) => p.table === 'job_logs' && p.copied >= 8), 'pages of job_logs were inserted before the refusal');
    const after = await dumpStore(dst);
    for (const t of COPIED_TABLES) assert.deepEqual(after[t.name], [], `${t.name} is empty`);
    assert.equal((await enqueueJob(dst, newJob('first'), CONTENT_T0)).job.seq, 1, 'the counters were not moved either');
  });

  it('rewrites the output root of the paths under it, keeps the others, and reports the roots', async () => {
    const [src, dst] = [await db('sqlite'), await db('sqlite')];
    const content = await fillStore(src, { jobs: 10, outputRoot: '/srv/old' });
    const elsewhere = content.succeeded[0];
    await src.updateTable('outputs').set({ parquet_path: `/srv/older/outputs/${elsewhere.jobId}/attempt-1/rows.parquet` }).where('job_id', '=', elsewhere.jobId).execute();
    const report = await copyStore(src, dst, { rewriteOutputRoot: parseOutputRootRewrite('/srv/old/=/mnt/shared/cf') });
    const paths = new Map((await dst.selectFrom('outputs').select(['job_id', 'parquet_path']).execute()).map((r) => [r.job_id, r.parquet_path]));
    for (const s of content.succeeded.slice(1)) assert.equal(paths.get(s.jobId), `/mnt/shared/cf/outputs/${s.jobId}/attempt-1/rows.parquet`);
    assert.equal(paths.get(elsewhere.jobId), `/srv/older/outputs/${elsewhere.jobId}/attempt-1/rows.parquet`);
    assert.equal(report.rewrittenOutputs, content.succeeded.length - 1);
    assert.equal(report.outputsNotRewritten, 1);
    assert.deepEqual(report.outputRoots, ['/mnt/shared/cf', '/srv/older']);
  });

  it('output paths: OLD=NEW parsing, prefixes on a directory boundary, the root of a committed output', () => {
    assert.deepEqual(parseOutputRootRewrite('/a/b/=/c'), { from: '/a/b', to: '/c' });
    assert.deepEqual(parseOutputRootRewrite('/a//b/../b=/c/d/'), { from: '/a/b', to: '/c/d' });
    assert.throws(() => parseOutputRootRewrite('/a/b'), /OLD=NEW/);
    assert.throws(() => parseOutputRootRewrite('a/b=/c'), /absolute/);
    assert.throws(() => parseOutputRootRewrite('/a=c'), /absolute/);
    const r = { from: '/a/b', to: '/x' };
    assert.equal(rewriteOutputPath('/a/b/outputs/j/attempt-1/o.parquet', r), '/x/outputs/j/attempt-1/o.parquet');
    assert.equal(rewriteOutputPath('/a/bc/outputs/j/attempt-1/o.parquet', r), undefined);
    assert.equal(rewriteOutputPath('/a/b', r), undefined);
    assert.equal(rewriteOutputPath('/a/b/o.parquet', { from: '/', to: '/x' }), '/x/a/b/o.parquet');
    assert.equal(outputRootOf('/data/dir/outputs/job-1/attempt-12/rows.parquet'), '/data/dir');
    assert.equal(outputRootOf('/outputs/job-1/attempt-1/rows.parquet'), '/');
    assert.equal(outputRootOf('/somewhere/else.parquet'), '/somewhere');
  });
});
