/**
 * `casparian db copy` as a user runs it (the compiled CLI in a subprocess):
 * a SQLite store written by the queue's own functions goes into a fresh
 * PostgreSQL database row for row, and a real Sentinel then serves it; a
 * non-empty target, a missing source and a row the target refuses all leave
 * the target as it was.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import SQLite from 'better-sqlite3';
import { COPIED_TABLES } from '../../services/sentinel/db/copy-store';
import { columnTypes, MIGRATIONS } from '../../services/sentinel/db/migrations';
import { openDatabase, type Db } from '../../services/sentinel/db/open-database';
import { compileManifest } from '../../services/sentinel/plugins/manifest';
import { publishPlugin } from '../../services/sentinel/plugins/registry';
import { appendLogs, enqueueJob } from '../../services/sentinel/queue';
import { runCli, showCli } from '../helpers/cli-run';
import { freePort } from '../helpers/managed-proc';
import { writeParquet } from '../helpers/parquet-files';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { CONTENT_T0, dumpStore, fillStore } from '../helpers/store-content';
import { freshPgDatabase } from '../helpers/stores';
import { newJob } from '../unit/queue/fixtures';

describe('integration: casparian db copy', function () {
  this.timeout(180_000);
  let dir: string;
  const open: Db[] = [];
  async function db(target: string): Promise<Db> {
    const d = await openDatabase(target);
    open.push(d);
    return d;
  }
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-db-copy-'))));
  afterEach(async () => {
    for (const d of open.splice(0)) await d.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A SQLite store file with fillStore's content; closed again, as a stopped Sentinel leaves it. */
  async function sqliteStore(o: Parameters<typeof fillStore>[1] = {}): Promise<string> {
    const file = path.join(dir, 'sentinel.db');
    const d = await openDatabase(`sqlite:${file}`);
    try {
      await fillStore(d, o);
    } finally {
      await d.destroy();
    }
    return file;
  }

  it('copies every table of a SQLite store into a fresh PostgreSQL database row for row; new jobs get a seq above the copied ones', async () => {
    // 1200 single jobs: jobs and job_logs take two pages of 1000.
    const file = await sqliteStore({ jobs: 1200, logLinesPerJob: 2 });
    const url = await freshPgDatabase('dbcopy');
    const r = await runCli(['db', 'copy', '--from', `sqlite:${file}`, '--to', url, '--json']);
    assert.equal(r.code, 0, showCli(r));

    const [src, dst] = [await db(`sqlite:${file}`), await db(url)];
    const before = await dumpStore(src);
    assert.deepEqual(await dumpStore(dst), before);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual(summary.tables, Object.fromEntries(COPIED_TABLES.map((t) => [t.name, before[t.name].length])));
    assert.ok(before.jobs.length > 1000 && before.job_logs.length > 1000, 'more than a page');
    assert.equal(summary.from, `sqlite:${file}`);
    assert.deepEqual(summary.outputRoots, ['/var/lib/casparian']);
    for (const t of COPIED_TABLES) assert.match(r.stderr, new RegExp(`^  ${t.name}: ${before[t.name].length} rows$`, 'm'));
    assert.match(r.stderr, /must be stopped/);
    assert.match(r.stderr, /output files were not moved\. The copied rows name files under \/var\/lib\/casparian/);

    const maxSeq = Math.max(...before.jobs.map((j) => j.seq as number));
    const added = await enqueueJob(dst, newJob('after-the-copy'), CONTENT_T0 + 1e9);
    assert.equal(added.job.seq, maxSeq + 1);
    await appendLogs(dst, [{ jobId: 'after-the-copy', attempt: 0, level: 'info', source: 'plugin', message: 'hello', time: 1 }]);
    const maxLog = Math.max(...before.job_logs.map((l) => l.id as number));
    assert.equal((await dst.selectFrom('job_logs').select('id').where('job_id', '=', 'after-the-copy').executeTakeFirstOrThrow()).id, maxLog + 1);
    const plugin = await publishPlugin(dst, { name: 'new', version: '1', source: 's', lockfile: 'pyarrow\n', manifest: compileManifest({}) }, CONTENT_T0);
    assert.equal(plugin.plugin.seq, before.plugins.length + 1);
  });

  it('refuses a target that holds rows, says what to do, and leaves it unchanged', async () => {
    const file = await sqliteStore();
    const url = await freshPgDatabase('dbcopy');
    const dst = await db(url);
    await publishPlugin(dst, { name: 'there', version: '1', source: 's', lockfile: 'pyarrow\n', manifest: compileManifest({}) }, CONTENT_T0);
    const before = await dumpStore(dst);
    const r = await runCli(['db', 'copy', '--from', `sqlite:${file}`, '--to', url]);
    assert.equal(r.code, 1, showCli(r));
    assert.match(r.stderr, /is not empty \(plugins: 1 rows\); nothing was copied\..*new database \(dropdb and createdb/);
    assert.equal(r.stdout, '');
    assert.deepEqual(await dumpStore(dst), before);
  });

  it('refuses a SQLite source that does not exist, without creating it', async () => {
    const missing = path.join(dir, 'not-there', 'sentinel.db');
    const url = await freshPgDatabase('dbcopy');
    const r = await runCli(['db', 'copy', '--from', `sqlite:${missing}`, '--to', url]);
    assert.equal(r.code, 1, showCli(r));
    assert.match(r.stderr, /no such SQLite file, nothing to copy/);
    assert.ok(!fs.existsSync(path.dirname(missing)), 'the source file (or its dir) was created');
  });

  it('a row the target refuses midway (a NUL in a log line) fails the copy, names the row, and leaves the target empty', async () => {
    const file = await sqliteStore({ jobs: 1200, logLinesPerJob: 2 });
    const src = await db(`sqlite:${file}`);
    // As a Sentinel stored such a line before log lines were made storable everywhere (queue/job-logs.ts).
    await src.insertInto('job_logs').values({ job_id: 'job-0000', attempt: 1, level: 'info', source: 'stdout', message: 'bytes \u0000\u0001 from a binary file', time: CONTENT_T0 }).execute();
    const badId = (await src.selectFrom('job_logs').select('id').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow()).id;
    const url = await freshPgDatabase('dbcopy');
    const r = await runCli(['db', 'copy', '--from', `sqlite:${file}`, '--to', url]);
    assert.equal(r.code, 1, showCli(r));
    assert.match(r.stderr, new RegExp(`rolled back.*: job_logs row id=${badId}: .*its message holds a NUL character`));
    assert.match(r.stderr, /^ {2}jobs: \d+ rows$/m, 'the tables before it had been copied');
    const after = await dumpStore(await db(url));
    for (const t of COPIED_TABLES) assert.deepEqual(after[t.name], [], `${t.name} is empty`);
  });

  it('migrates an old SQLite store (schema 4) before copying it', async () => {
    const file = path.join(dir, 'old.db');
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
    await sql`create table schema_migrations (id integer primary key, name text not null, applied_at integer not null)`.execute(old);
    for (const m of MIGRATIONS.filter((m) => m.id <= 4)) {
      await m.up(old, columnTypes('sqlite'));
      await sql`insert into schema_migrations values (${m.id}, ${m.name}, 1)`.execute(old);
    }
    await sql`insert into jobs (id, plugin_name, plugin_version, env_hash, input_path, state, attempt, max_attempts, attempt_budget, run_at, timeouts_json, cancel_requested, created_at, updated_at)
      values ('old-job', 'p', '1', 'e', '/in/a.csv', 'queued', 0, 3, 3, 5, '{}', 0, 5, 5)`.execute(old);
    await old.destroy();

    const url = await freshPgDatabase('dbcopy');
    const r = await runCli(['db', 'copy', '--from', `sqlite:${file}`, '--to', url]);
    assert.equal(r.code, 0, showCli(r));
    const job = await (await db(url)).selectFrom('jobs').selectAll().executeTakeFirstOrThrow();
    assert.equal(job.id, 'old-job');
    assert.equal(job.priority, 0, 'a column of a later migration, at its default');
    assert.equal(job.batch_id, null);
    const applied = (await sql<{ id: number }>`select id from schema_migrations order by id`.execute(await db(`sqlite:${file}`))).rows.map((m) => Number(m.id));
    assert.deepEqual(applied, MIGRATIONS.map((m) => m.id), 'the source was migrated');
  });

  it('refuses bad flags with usage errors (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['db', 'copy', '--to', 'sqlite:/tmp/x.db'], /--from is required/],
      [['db', 'copy', '--from', 'mysql://h/db', '--to', 'sqlite:/tmp/x.db'], /^--from: unsupported store "mysql"/],
      [['db', 'copy', '--from', 'sqlite:/tmp/x.db', '--to', '/tmp/../tmp/x.db'], /--from and --to name the same store/],
      [['db', 'copy', '--from', 'sqlite:/tmp/x.db', '--to', 'sqlite:/tmp/y.db', '--rewrite-output-root', 'relative=/b'], /--rewrite-output-root: expected OLD=NEW with absolute/],
      [['db', 'move'], /^error: unknown command 'move'/], // commander's word for a subcommand db does not have
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, showCli(r));
      assert.match(r.stderr, message);
    }
  });

  describe('a Sentinel on the copied store', () => {
    const clusters = useClusters();

    clusters.it('lists the copied jobs and serves their outputs from the new output root, which its startup sweep leaves alone', async () => {
      const oldRoot = path.join(dir, 'old-data');
      const file = await sqliteStore({ jobs: 12, outputRoot: oldRoot });
      const src = await db(`sqlite:${file}`);
      const outputs = await src.selectFrom('outputs').select(['job_id', 'parquet_path']).execute();
      await writeParquet(Object.fromEntries(outputs.map((o, i) => [o.parquet_path, `select range::bigint as n from range(${i + 2})`])));

      const c = clusters.track(new ProcCluster({ sentinelEnv: { CASPARIAN_COMMIT_WRITER: 'wasm' } }));
      c.storeUrl = await freshPgDatabase('dbcopy');
      const r = await runCli(['db', 'copy', '--from', `sqlite:${file}`, '--to', c.storeUrl, '--rewrite-output-root', `${oldRoot}=${c.dataDir}`]);
      assert.equal(r.code, 0, showCli(r));
      assert.match(r.stderr, new RegExp(`rewrote ${outputs.length} output paths`));
      fs.cpSync(path.join(oldRoot, 'outputs'), path.join(c.dataDir, 'outputs'), { recursive: true });

      c.port = await freePort();
      await c.startSentinel();
      const jobs = await runCli(['jobs', '--sentinel', c.address, '--limit', '1000', '--json']);
      assert.equal(jobs.code, 0, showCli(jobs));
      const listed = (JSON.parse(jobs.stdout).jobs as { id: string }[]).map((j) => j.id).sort();
      const copied = (await src.selectFrom('jobs').select('id').execute()).map((j) => j.id).sort();
      assert.deepEqual(listed, copied);

      for (const [i, o] of outputs.entries()) {
        const moved = path.join(c.dataDir, path.relative(oldRoot, o.parquet_path));
        assert.ok(fs.existsSync(moved), `${moved} survived the Sentinel's start`);
        const csv = await runCli(['fetch', o.job_id, '--format', 'csv', '--sentinel', c.address]);
        assert.equal(csv.code, 0, showCli(csv));
        assert.equal(csv.stdout.trim().split('\n').length, 1 + i + 2, `${o.job_id}: a header and ${i + 2} rows`);
      }
    });
  });
});
