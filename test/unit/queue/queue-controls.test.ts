/** Priority, not_before and the counts behind concurrency caps, on an in-memory SQLite. */
import { sql } from 'kysely';
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import { DEFAULT_BACKOFF } from '../../../services/common/config';
import type { Db } from '../../../services/sentinel/db/open-database';
import { canonicalManifest, compileManifest, parseManifest } from '../../../services/sentinel/plugins/manifest';
import { listConcurrencyCaps } from '../../../services/sentinel/plugins/concurrency-caps';
import { publishPlugin } from '../../../services/sentinel/plugins/registry';
import {
  claimJob,
  countLeasedByPlugin,
  enqueueBatch,
  insertJobs,
  enqueueJob,
  failAttempt,
  listRunnable,
  runnableQuery,
  requestCancel,
  retryJob,
  submitFingerprint,
} from '../../../services/sentinel/queue';
import { queueControls } from '../../../services/sentinel/rpc/queue-controls';
import { CapBudget } from '../../../services/sentinel/scheduler/concurrency-caps';
import { T0, TRANSIENT, newJob } from './fixtures';

for (const store of STORES) describe(`unit: queue controls [${store}]`, () => {
  let db: Db;
  beforeEach(async () => (db = await openTestDb(store)));
  afterEach(() => db.destroy());
  const ids = (rows: { id: string }[]): string[] => rows.map((r) => r.id);

  it('lists runnable jobs by priority (higher first), then in submission order', async () => {
    await enqueueJob(db, newJob('a'), T0);
    await enqueueJob(db, newJob('b', { priority: -3 }), T0);
    await enqueueJob(db, newJob('c', { priority: 2 }), T0);
    await enqueueBatch(db, { id: 'B', pluginName: 'p', pluginVersion: '1' }, [newJob('d', { priority: 2 }), newJob('e')], T0);
    assert.deepEqual(ids(await listRunnable(db, T0, 10)), ['c', 'd', 'a', 'e', 'b']);
    assert.deepEqual(ids(await listRunnable(db, T0, 2)), ['c', 'd']);
  });

  it('leaves out the plugins it is told to skip', async () => {
    await enqueueJob(db, newJob('a', { pluginName: 'capped', priority: 1 }), T0);
    await enqueueJob(db, newJob('b'), T0);
    assert.deepEqual(ids(await listRunnable(db, T0, 10, ['capped'])), ['b']);
  });

  it('walks the jobs_queue_order index and sorts nothing (EXPLAIN)', async () => {
    if (store === 'postgres') {
      // PostgreSQL's planner scans a small table whole and sorts it; with a queue of some size it must walk the index.
      await db.transaction().execute((trx) => insertJobs(trx, Array.from({ length: 20_000 }, (_, i) => newJob(`q${i}`)), T0, 'bulk'));
      await sql`analyze jobs`.execute(db);
      for (const skip of [[], ['capped']]) {
        const q = runnableQuery(db, T0, 16, skip).compile();
        const { rows } = await db.executeQuery<{ 'QUERY PLAN': string }>({ ...q, sql: `explain ${q.sql}` });
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        assert.match(plan, /Index Scan using jobs_queue_order on jobs/, plan);
        assert.doesNotMatch(plan, /\bSort\b/, `sorts instead of walking the index:\n${plan}`);
      }
      return;
    }
    for (const skip of [[], ['capped']]) {
      const q = runnableQuery(db, T0, 16, skip).compile();
      const { rows } = await db.executeQuery<{ detail: string }>({ ...q, sql: `explain query plan ${q.sql}` });
      const plan = rows.map((r) => r.detail).join('\n');
      assert.match(plan, /SEARCH jobs USING INDEX jobs_queue_order \(state=\?\)/, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE/, `sorts instead of walking the index:\n${plan}`);
    }
  });

  it('starts a job with not_before at that time; a past not_before changes nothing', async () => {
    const later = (await enqueueJob(db, newJob('later', { notBefore: T0 + 5_000, priority: 9 }), T0)).job;
    const past = (await enqueueJob(db, newJob('past', { notBefore: T0 - 5_000 }), T0)).job;
    assert.equal(later.run_at, T0 + 5_000);
    assert.equal(later.not_before, T0 + 5_000);
    assert.equal(past.run_at, T0);
    assert.deepEqual(ids(await listRunnable(db, T0 + 4_999, 10)), ['past']);
    assert.deepEqual(ids(await listRunnable(db, T0 + 5_000, 10)), ['later', 'past']);
  });

  it('a retry after a failure never runs before not_before, whatever the backoff', async () => {
    await enqueueJob(db, newJob('j', { notBefore: T0 + 60_000 }), T0);
    // Claimed early on purpose (a claim does not check run_at), to see the backoff floor.
    await claimJob(db, { jobId: 'j', workerId: 'w', leaseToken: 'L', leaseMs: 1000 }, T0);
    const failed = await failAttempt(db, { ref: { jobId: 'j', attempt: 1, leaseToken: 'L' }, error: TRANSIENT, policy: DEFAULT_BACKOFF, now: T0 + 10, rand: () => 0.5 });
    assert.equal(failed?.state, 'queued');
    assert.equal(failed?.run_at, T0 + 60_000);
  });

  it('RetryJob of a job cancelled before its not_before keeps it', async () => {
    await enqueueJob(db, newJob('j', { notBefore: T0 + 60_000 }), T0);
    await requestCancel(db, 'j', 'no', T0);
    const res = await retryJob(db, 'j', { resetAttempts: false }, T0 + 1_000);
    assert.equal(res.kind === 'retried' && res.job.run_at, T0 + 60_000);
  });

  it('counts leased attempts per plugin name over every version, in one query', async () => {
    await enqueueJob(db, newJob('a', { pluginName: 'p', pluginVersion: '1' }), T0);
    await enqueueJob(db, newJob('b', { pluginName: 'p', pluginVersion: '2' }), T0);
    await enqueueJob(db, newJob('c', { pluginName: 'p', pluginVersion: '2' }), T0);
    await enqueueJob(db, newJob('d', { pluginName: 'q' }), T0);
    for (const id of ['a', 'b', 'd']) await claimJob(db, { jobId: id, workerId: 'w', leaseToken: id, leaseMs: 1000 }, T0);
    assert.deepEqual(await countLeasedByPlugin(db, ['p', 'r']), new Map([['p', 2]]));
    assert.deepEqual(await countLeasedByPlugin(db, []), new Map());
  });

  it("a plugin's cap is its newest version's max_concurrency", async () => {
    const pub = (name: string, version: string, maxConcurrency: number) =>
      publishPlugin(db, { name, version, source: 's', lockfile: 'pyarrow\n', manifest: compileManifest({ maxConcurrency }) }, T0);
    await pub('p', '1', 4);
    await pub('p', '2', 2);
    await pub('q', '1', 3);
    await pub('q', '2', 0);
    await pub('r', '1', 1);
    assert.deepEqual(await listConcurrencyCaps(db), new Map([['p', 2], ['r', 1]]));
  });

  it('manifest.max_concurrency: 0 to 10000; absent from the canonical form when 0, so old artifact hashes stay', () => {
    assert.equal(compileManifest({ maxConcurrency: 3 }).maxConcurrency, 3);
    assert.throws(() => compileManifest({ maxConcurrency: -1 }), /manifest.max_concurrency must be between 0 and 10000, got -1/);
    assert.throws(() => compileManifest({ maxConcurrency: 4294967295 }), /manifest.max_concurrency must be between 0 and 10000/);
    assert.equal(parseManifest({ manifest_json: JSON.stringify({ timeouts: {} }) }).maxConcurrency, 0);
    assert.doesNotMatch(canonicalManifest(compileManifest({})), /maxConcurrency/);
    assert.match(canonicalManifest(compileManifest({ maxConcurrency: 2 })), /"maxConcurrency":2/);
  });

  it('validates priority and not_before of a request', () => {
    assert.deepEqual(queueControls({ priority: -7 }, T0), { priority: -7, notBefore: undefined });
    assert.deepEqual(queueControls({ priority: 0, notBefore: new Date(T0 + 1) }, T0), { priority: 0, notBefore: T0 + 1 });
    assert.throws(() => queueControls({ priority: 2 ** 31 }, T0), /priority must be an integer between -2147483648 and 2147483647/);
    assert.throws(() => queueControls({ priority: 1.5 }, T0), /priority must be an integer/);
    assert.throws(() => queueControls({ priority: 0, notBefore: new Date(NaN) }, T0), /not_before is not a valid timestamp/);
    assert.throws(() => queueControls({ priority: 0, notBefore: new Date(T0 + 400 * 86_400_000) }, T0), /not_before .* is more than 365 days ahead/);
  });

  it('a non-zero priority is part of the idempotency fingerprint; 0 keeps the fingerprint it had before', () => {
    const base = { pluginName: 'p', pluginVersion: '', inputPath: '/in', maxAttempts: 0 };
    assert.equal(submitFingerprint({ ...base, priority: 0 }), submitFingerprint(base));
    assert.notEqual(submitFingerprint({ ...base, priority: 1 }), submitFingerprint(base));
  });

  it('CapBudget admits up to the cap, counting what already runs, and names the full plugins', () => {
    const b = new CapBudget(new Map([['p', 2], ['q', 1]]), new Map([['p', 1], ['other', 9]]));
    assert.deepEqual(b.full(), []);
    assert.equal(b.admit('p'), true);
    b.take('p');
    assert.equal(b.admit('p'), false);
    assert.equal(b.admit('other'), true, 'an uncapped plugin is always admitted');
    b.take('q');
    assert.deepEqual(b.full(), ['p', 'q']);
    assert.equal(b.reason('p'), 'waiting: plugin p is at its concurrency cap (max_concurrency 2; 2 running)');
  });
});
