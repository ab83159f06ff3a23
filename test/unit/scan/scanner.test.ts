/** runScan on an in-memory SQLite with the real queue operations; the walk is a generator of entries. */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import type { Db } from '../../../services/sentinel/db/open-database';
import { enqueueScanChunk, getBatch, listJobs, readScannedFiles } from '../../../services/sentinel/queue';
import { runScan, type ScanDeps, type ScanLimits } from '../../../services/sentinel/scan/scanner';
import type { WalkEntry } from '../../../services/sentinel/scan/walk';
import { T0, newJob } from '../queue/fixtures';

interface FakeFile {
  size: number;
  mtimeUs: number;
  content: string;
}

for (const store of STORES) describe(`unit: scanner (file identity, chunks) [${store}]`, () => {
  let db: Db;
  let fsView: Map<string, FakeFile>;
  let hashed: string[];
  let seq: number;
  let batches: string[];
  beforeEach(async () => {
    db = await openTestDb(store);
    fsView = new Map();
    hashed = [];
    seq = 0;
    batches = [];
  });
  afterEach(() => db.destroy());

  const LIMITS: ScanLimits = { chunkFiles: 3, chunkBytes: 1e9, hashConcurrency: 2 };
  async function* entries(extra: WalkEntry[] = []): AsyncGenerator<WalkEntry> {
    for (const [p, f] of [...fsView].sort()) yield { kind: 'file', path: p, size: f.size, mtimeUs: f.mtimeUs };
    yield* extra;
  }
  const scan = async (o: { extra?: WalkEntry[]; stopAfter?: number; limits?: ScanLimits; hashFails?: string } = {}) => {
    const batch = { id: `b${batches.length}`, pluginName: 'p', pluginVersion: '1' };
    batches.push(batch.id);
    let chunks = 0;
    const deps: ScanDeps = {
      read: (paths) => readScannedFiles(db, 'p', paths),
      commit: (jobs, files) => enqueueScanChunk(db, batch, jobs, files, T0),
      newJob: (inputPath) => newJob(`j${++seq}`, { inputPath }),
      progress: async () => void chunks++,
      stopped: () => o.stopAfter !== undefined && chunks >= o.stopAfter,
      hash: async (p) => {
        hashed.push(p);
        if (p === o.hashFails) throw new Error('EIO: i/o error, read');
        return `h(${fsView.get(p)!.content})`;
      },
    };
    return { ...(await runScan(entries(o.extra), deps, o.limits ?? LIMITS)), batchId: batch.id, chunks };
  };
  const put = (p: string, content: string, mtimeUs = 1): void => void fsView.set(p, { size: content.length, mtimeUs, content });
  const queued = async (batchId: string) => (await listJobs(db, { batchId, limit: 1000 })).map((j) => j.input_path).sort();

  it('queues every new file as one batch, committed chunk by chunk, and records its identity', async () => {
    for (let i = 0; i < 7; i++) put(`/in/f${i}`, `c${i}`);
    const s = await scan();
    assert.deepEqual([s.matched, s.enqueued, s.skipped, s.errors, s.chunks], [7, 7, 0, 0, 3]);
    assert.equal((await getBatch(db, s.batchId))?.total, 7, 'later chunks add to the batch total');
    assert.equal((await queued(s.batchId)).length, 7);
    const rows = await readScannedFiles(db, 'p', ['/in/f0', '/in/f6']);
    const jobs = await listJobs(db, { batchId: s.batchId, limit: 10 });
    assert.deepEqual({ ...rows.get('/in/f6'), scanned_at: 0 }, {
      plugin_name: 'p', path: '/in/f6', size: 2, mtime_us: 1, sha256: 'h(c6)', scanned_at: 0, job_id: jobs.find((j) => j.input_path === '/in/f6')!.id,
    });
  });

  it('a re-scan reads nothing unchanged, hashes only size/mtime changes, queues only content changes', async () => {
    for (let i = 0; i < 5; i++) put(`/in/f${i}`, `c${i}`);
    await scan();
    hashed = [];
    const again = await scan();
    assert.deepEqual([again.enqueued, again.skipped, hashed.length], [0, 5, 0], 'same size and mtime: not even hashed');
    assert.equal(await getBatch(db, again.batchId), undefined, 'a scan that queues nothing makes no batch');

    put('/in/f1', 'c1', 2); // touched: new mtime, same content
    put('/in/f3', 'zz', 1); // same size and mtime, new content: not detected without a size/mtime change
    put('/in/f4', 'changed', 1);
    put('/in/f9', 'new');
    hashed = [];
    const third = await scan();
    assert.deepEqual(hashed.sort(), ['/in/f1', '/in/f4', '/in/f9']);
    assert.deepEqual([third.enqueued, third.skipped], [2, 4]);
    assert.deepEqual(await queued(third.batchId), ['/in/f4', '/in/f9']);
    assert.equal((await readScannedFiles(db, 'p', ['/in/f1'])).get('/in/f1')?.mtime_us, 2, "a touched file's new mtime is recorded");

    hashed = [];
    const fourth = await scan();
    assert.deepEqual([fourth.enqueued, hashed.length], [0, 0], 'after recording the touch, the file is skipped unread');
  });

  it('identities are per plugin name', async () => {
    put('/in/a', 'x');
    await scan();
    assert.equal((await readScannedFiles(db, 'other', ['/in/a'])).size, 0);
  });

  it('an unreadable file is counted and named, not fatal, and not recorded', async () => {
    put('/in/ok', 'x');
    put('/in/bad', 'y');
    const s = await scan({ hashFails: '/in/bad' });
    assert.deepEqual([s.matched, s.enqueued, s.errors], [2, 1, 1]);
    assert.deepEqual(s.errorFiles, [{ path: '/in/bad', message: 'EIO: i/o error, read' }]);
    assert.equal((await readScannedFiles(db, 'p', ['/in/bad'])).size, 0, 'so the next scan tries it again');
  });

  it('walk errors are counted; the summary names the first 100', async () => {
    put('/in/ok', 'x');
    put('/in/bad', 'y');
    const extra: WalkEntry[] = Array.from({ length: 120 }, (_, i) => ({ kind: 'error', path: `/in/d${i}`, message: 'EACCES' }));
    const s = await scan({ extra, hashFails: '/in/bad' });
    assert.deepEqual([s.matched, s.enqueued, s.errors, s.errorFiles.length], [2, 1, 121, 100]);
    assert.deepEqual(s.errorFiles[0], { path: '/in/d0', message: 'EACCES' });
    assert.equal(s.errors - s.errorFiles.length, 21);
  });

  it('streams: stops between chunks when told, without reading the rest of the walk', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<WalkEntry> {
      for (let i = 0; ; i++) {
        pulled++;
        yield { kind: 'file', path: `/in/${i}`, size: 1, mtimeUs: 1 };
      }
    }
    const batch = { id: 'b', pluginName: 'p', pluginVersion: '1' };
    let chunks = 0;
    const s = await runScan(
      endless(),
      {
        read: (paths) => readScannedFiles(db, 'p', paths),
        commit: (jobs, files) => enqueueScanChunk(db, batch, jobs, files, T0),
        newJob: (inputPath) => newJob(`j${++seq}`, { inputPath }),
        progress: async () => void chunks++,
        stopped: () => chunks >= 4,
        hash: async () => 'h',
      },
      { chunkFiles: 10, chunkBytes: 1e9, hashConcurrency: 4 },
    );
    assert.deepEqual([s.enqueued, s.interrupted, pulled], [40, true, 40]);
  });

  it('yields to the event loop between chunks, so other work runs during a scan', async () => {
    for (let i = 0; i < 30; i++) put(`/in/f${i}`, `c${i}`);
    let ticks = 0;
    let on = true;
    const tick = (): void => {
      ticks++;
      if (on) setImmediate(tick);
    };
    setImmediate(tick);
    const s = await scan();
    on = false;
    assert.equal(s.chunks, 10);
    assert.ok(ticks >= 10, `other work ran ${ticks} times during 10 chunks`);
  });

  it('a chunk also ends at chunkBytes', async () => {
    for (let i = 0; i < 6; i++) put(`/in/f${i}`, 'x'.repeat(100));
    const s = await scan({ limits: { chunkFiles: 1000, chunkBytes: 250, hashConcurrency: 1 } });
    assert.equal(s.chunks, 2);
  });
});
