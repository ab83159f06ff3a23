import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { LocalOutputStore, type OutputStoreOptions } from '../../../services/sentinel/sinks/output-store';
import type { OutputWriterFactory } from '../../../services/sentinel/sinks/output-writer';
import type { AttemptRules } from '../../../services/sentinel/sinks/staging-area';
import { JobFailure } from '../../../services/common/job-error';
import { ipcMessagesOfBuffer } from '../../../services/sentinel/sinks/ipc-messages';
import { appendChunked, collect, isInvalidOutput, rowsOf, sampleTable, tempDataDir, tree } from './helpers';

const MiB = 1024 * 1024;

async function parquetMeta(file: string): Promise<{ rowGroupRows: number[]; codecs: pw.Compression[] }> {
  const pf = await pw.ParquetFile.fromFile(await fs.openAsBlob(file));
  try {
    const groups = pf.metadata().rowGroups();
    const codecs = new Set(groups.flatMap((g) => g.columns().map((c) => c.compression())));
    return { rowGroupRows: groups.map((g) => g.numRows()), codecs: [...codecs] };
  } finally {
    pf.free();
  }
}

/** How one writer leaves an output in the staging dir before seal. */
export interface WriterUnderTest {
  title: string;
  /** A factory for one store (shared resources behind it stay open; the suite closes each store). */
  writers(): OutputWriterFactory;
  /** The files of output `name` in the staging dir while it streams in (before seal). */
  streaming(name: string): string[];
  /** ...and after a seal that failed. */
  afterFailedSeal(name: string): string[];
  /** The row groups of an output written as one record batch of `rows` rows. */
  rowGroups(rows: number): number[];
}

/**
 * The LocalOutputStore's contract, run once per writer (wasm-writer.ts in
 * output-store.test.ts, pyarrow-writer.ts in pyarrow-writer.test.ts).
 */
export function outputStoreSuite(w: WriterUnderTest): void {
describe(`LocalOutputStore (${w.title})`, () => {
  let dataDir: string;
  let store: LocalOutputStore;
  const stores: LocalOutputStore[] = [];
  const newStore = (opts: OutputStoreOptions = {}): LocalOutputStore => {
    const s = new LocalOutputStore(dataDir, { writers: w.writers(), ...opts });
    stores.push(s);
    return s;
  };

  beforeEach(() => {
    dataDir = tempDataDir();
    store = newStore();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  async function fetchTable(parquetPath: string, maxChunk = MiB): Promise<arrow.Table> {
    return arrow.tableFromIPC(await collect(store.readAsIpc(parquetPath, maxChunk), maxChunk));
  }

  it('round-trips two outputs appended in 7-byte chunks through seal, publish and readAsIpc', async () => {
    const events = sampleTable(500);
    // Several batches whose dictionaries differ, so the stream carries dictionary messages between batches.
    const multi = new arrow.Table([...sampleTable(300, 0).batches, ...sampleTable(301, 1000).batches]);
    const area = store.stage('job-1', 1);
    const a = appendChunked(area, 'events', arrow.tableToIPC(events, 'stream'), 7);
    const b = appendChunked(area, 'multi_batch', arrow.tableToIPC(multi, 'stream'), 7);
    await Promise.all([a, b]); // interleaved appends to two outputs
    assert.deepEqual(tree(area.dir), [...w.streaming('events'), ...w.streaming('multi_batch')]);

    const staged = await area.seal();
    assert.deepEqual(staged.map((s) => [s.name, s.rows]), [['events', 500], ['multi_batch', 601]]);
    assert.deepEqual(tree(area.dir), ['events.parquet', 'multi_batch.parquet']);
    assert.deepEqual(staged[0].schema, [
      { name: 'id', type: 'Int32', nullable: false },
      { name: 'big', type: 'Int64', nullable: true },
      { name: 'score', type: 'Float64', nullable: false },
      { name: 'name', type: 'Utf8', nullable: true },
      { name: 'flag', type: 'Bool', nullable: true },
      { name: 'kind', type: 'Dictionary<Int32, Utf8>', nullable: true },
      { name: 'at', type: 'Timestamp<MICROSECOND, UTC>', nullable: true },
    ]);
    for (const s of staged) {
      assert.equal(s.sizeBytes, fs.statSync(s.parquetPath).size);
      assert.equal(fs.readFileSync(s.parquetPath).subarray(0, 4).toString(), 'PAR1');
    }

    const { dir, outputs } = await area.publish();
    assert.equal(dir, path.join(dataDir, 'outputs', 'job-1', 'attempt-1'));
    assert.equal(fs.existsSync(area.dir), false);
    assert.deepEqual(tree(dir), ['events.parquet', 'multi_batch.parquet']);
    assert.deepEqual(outputs.map((o) => o.parquetPath), [path.join(dir, 'events.parquet'), path.join(dir, 'multi_batch.parquet')]);

    const back = await fetchTable(outputs[0].parquetPath, 1000);
    assert.deepEqual(back.schema.fields.map((f) => `${f.name}:${f.type}`), events.schema.fields.map((f) => `${f.name}:${f.type}`));
    assert.deepEqual(rowsOf(back), rowsOf(events));
    const backMulti = await fetchTable(outputs[1].parquetPath, 4096);
    assert.deepEqual(rowsOf(backMulti), rowsOf(multi));
  });

  it('round-trips a 200k-row table appended in 1 MiB chunks', async function () {
    const n = 200_000;
    const table = sampleTable(n);
    const ipc = arrow.tableToIPC(table, 'stream');
    assert.ok(ipc.byteLength > 3 * MiB, `ipc is ${ipc.byteLength} bytes`);
    const area = store.stage('job-big', 2);
    const t0 = process.hrtime.bigint();
    await appendChunked(area, 'rows', ipc, MiB);
    // The writers convert off the event loop; the longest stall of this loop is reported.
    let last = Date.now();
    let maxGap = 0;
    const ticker = setInterval(() => {
      maxGap = Math.max(maxGap, Date.now() - last);
      last = Date.now();
    }, 2);
    const [staged] = await area.seal().finally(() => clearInterval(ticker));
    const t1 = process.hrtime.bigint();
    // maxGap is reported, not asserted: it depends on machine load.
    const meta = await parquetMeta(staged.parquetPath);
    assert.deepEqual(meta.rowGroupRows, w.rowGroups(n));
    const { outputs } = await area.publish();
    assert.equal(staged.rows, n);

    let chunks = 0;
    const parts: Uint8Array[] = [];
    for await (const c of store.readAsIpc(outputs[0].parquetPath)) {
      assert.ok(c.byteLength <= MiB);
      parts.push(c);
      chunks++;
    }
    const t2 = process.hrtime.bigint();
    assert.ok(chunks > 1, `expected several chunks, got ${chunks}`);
    const back = arrow.tableFromIPC(Buffer.concat(parts));
    assert.equal(back.numRows, n);
    assert.deepEqual(rowsOf(back.slice(0, 1000)), rowsOf(table.slice(0, 1000)));
    assert.deepEqual(rowsOf(back.slice(n - 1000)), rowsOf(table.slice(n - 1000)));
    assert.deepEqual([...back.getChild('big')!], [...table.getChild('big')!]);
    assert.deepEqual([...back.getChild('name')!], [...table.getChild('name')!]);
    const mb = ipc.byteLength / MiB;
    const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
    console.log(
      `      200k rows: ${mb.toFixed(1)} MiB IPC -> ${(staged.sizeBytes / MiB).toFixed(1)} MiB Parquet; ` +
        `append+seal ${ms(t0, t1).toFixed(0)} ms (${(mb / (ms(t0, t1) / 1000)).toFixed(1)} MiB/s), ` +
        `readAsIpc ${ms(t1, t2).toFixed(0)} ms in ${chunks} chunks; longest event-loop stall ${maxGap} ms`,
    );
  });

  it('writes SNAPPY by default and ZSTD when asked', async () => {
    const bytes = arrow.tableToIPC(sampleTable(100), 'stream');
    for (const [codec, expected] of [[undefined, pw.Compression.SNAPPY], ['zstd', pw.Compression.ZSTD], ['none', pw.Compression.UNCOMPRESSED]] as const) {
      const s = newStore({ codec });
      const area = s.stage(`job-${codec}`, 1);
      await area.append('out', bytes);
      const [staged] = await area.seal();
      assert.deepEqual((await parquetMeta(staged.parquetPath)).codecs, [expected], String(codec));
      const back = await fetchTable((await area.publish()).outputs[0].parquetPath);
      assert.deepEqual(rowsOf(back), rowsOf(sampleTable(100)));
    }
  });

  it('stages an attempt without outputs as valid and empty', async () => {
    const area = store.stage('job-empty', 1);
    assert.deepEqual(await area.seal(), []);
    const { dir, outputs } = await area.publish();
    assert.deepEqual(outputs, []);
    assert.deepEqual(tree(dir), []);
  });

  it('keeps the schema of an output with no record batches', async () => {
    const schemaOnly = new arrow.Table(sampleTable(1).schema);
    const area = store.stage('job-schema', 1);
    await area.append('nothing', arrow.tableToIPC(schemaOnly, 'stream'));
    const [staged] = await area.seal();
    assert.equal(staged.rows, 0);
    assert.equal(staged.schema.length, 7);
    const { outputs } = await area.publish();
    const back = await fetchTable(outputs[0].parquetPath);
    assert.equal(back.numRows, 0);
    assert.deepEqual(back.schema.fields.map((f) => f.name), ['id', 'big', 'score', 'name', 'flag', 'kind', 'at']);
  });

  describe('rejects invalid output bytes with INVALID_OUTPUT naming the output', () => {
    const ipc = arrow.tableToIPC(sampleTable(1000), 'stream');

    async function sealWith(bytes: Uint8Array): Promise<unknown> {
      const area = store.stage('job-bad', 1);
      await area.append('good', arrow.tableToIPC(sampleTable(3), 'stream'));
      // A writer may find the stream bad while it arrives (append rejects) or at seal.
      return appendChunked(area, 'bad', bytes, 4096)
        .then(() => area.seal())
        .finally(() => area.discard());
    }

    it('garbage', async () => {
      await assert.rejects(sealWith(Buffer.from('this is not arrow at all, just text\n'.repeat(50))), isInvalidOutput('"bad"'));
    });
    it('zero bytes that a lenient reader would take for an empty stream', async () => {
      await assert.rejects(sealWith(new Uint8Array(64)), isInvalidOutput('"bad"'));
    });
    it('a stream truncated inside a message body', async () => {
      await assert.rejects(sealWith(ipc.subarray(0, ipc.byteLength - 100)), isInvalidOutput('truncated'));
    });
    it('a stream truncated at a message boundary (no end-of-stream marker)', async () => {
      await assert.rejects(sealWith(ipc.subarray(0, ipc.byteLength - 8)), isInvalidOutput('end-of-stream'));
    });
    it('a stream with bytes after the end-of-stream marker', async () => {
      await assert.rejects(sealWith(Buffer.concat([ipc, Buffer.from('tail')])), isInvalidOutput('after the end-of-stream'));
    });
    it('a stream with only a schema cut short', async () => {
      await assert.rejects(sealWith(ipc.subarray(0, 20)), isInvalidOutput('"bad"'));
    });
    /** Three batches of a non-null utf8 column; the last offset of batch `which` points far outside the data. */
    async function corruptOffsets(which: number): Promise<Buffer> {
      const one = new arrow.Table({ s: arrow.vectorFromArray(['a', 'bb', 'ccc'], new arrow.Utf8()) });
      const t = new arrow.Table([...one.batches, ...one.batches, ...one.batches]);
      const bytes = Buffer.from(arrow.tableToIPC(t, 'stream'));
      const bodies: number[] = [];
      let at = 0;
      for await (const m of ipcMessagesOfBuffer(bytes)) {
        if (m.kind === 'record_batch') bodies.push(at + m.bytes.byteLength - m.bodyLength);
        at += m.bytes.byteLength;
      }
      assert.equal(bodies.length, 3);
      bytes.writeInt32LE(0x7ffffff0, bodies[which] + 4 * 3); // no null bitmap: offsets start the body
      return bytes;
    }

    it('well-framed bytes whose string offsets point outside the data', async () => {
      await assert.rejects(sealWith(await corruptOffsets(0)), isInvalidOutput('"bad"'));
    });
    it('a bad batch after good ones, found while the Parquet writer is running', async () => {
      const area = store.stage('job-late', 1);
      await assert.rejects(
        area.append('bad', await corruptOffsets(2)).then(() => area.seal()),
        isInvalidOutput('record batch'),
      );
      assert.deepEqual(tree(area.dir), w.afterFailedSeal('bad')); // the partial Parquet file is gone
      await area.discard();
    });
    it('data Parquet cannot hold', async () => {
      const t = new arrow.Table({
        i: arrow.makeVector({ type: new arrow.IntervalMonthDayNano(), data: new Int32Array(8) }),
      });
      await assert.rejects(sealWith(arrow.tableToIPC(t, 'stream')), isInvalidOutput('cannot be stored as Parquet'));
    });
  });

  it('rejects bad output names with INVALID_OUTPUT and writes nothing for them', async () => {
    const area = store.stage('job-names', 1);
    const bytes = arrow.tableToIPC(sampleTable(2), 'stream');
    const bad = ['', '.hidden', '../escape', 'a/b', 'with space', 'x'.repeat(129), '-dash', 'ünïcode', 'Upper', 'has.dot', 'has-dash', '1digit', '_under', 'rows_quarantine'];
    for (const name of bad) {
      await assert.rejects(area.append(name, bytes), isInvalidOutput('invalid output name'), name);
    }
    await area.append('x'.repeat(128), bytes);
    await area.append('ok_name_1_v2', bytes);
    await area.seal();
    assert.deepEqual(tree(area.dir), ['ok_name_1_v2.parquet', `${'x'.repeat(128)}.parquet`].sort());
    await area.discard();
  });

  it('limits the number of outputs per attempt', async () => {
    const small = newStore({ maxOutputsPerAttempt: 2 });
    const area = small.stage('job-many', 1);
    const bytes = arrow.tableToIPC(sampleTable(2), 'stream');
    await area.append('a', bytes.subarray(0, 8));
    await area.append('b', bytes.subarray(0, 8));
    await area.append('a', bytes.subarray(8, 16));
    await assert.rejects(area.append('c', bytes.subarray(0, 8)), isInvalidOutput('too many outputs'));
    await area.discard();
  });

  it('discard leaves nothing behind, is idempotent and ends the staging area', async () => {
    const area = store.stage('job-discard', 3);
    const pending = appendChunked(area, 'out', arrow.tableToIPC(sampleTable(100), 'stream'), 7);
    await pending;
    assert.ok(fs.existsSync(area.dir));
    await area.discard();
    await area.discard();
    assert.equal(fs.existsSync(area.dir), false);
    assert.deepEqual(tree(path.join(dataDir, 'staging')), []);
    assert.deepEqual(tree(path.join(dataDir, 'outputs')), []);
    await assert.rejects(area.append('out', new Uint8Array(8)), /discarded/);
    await assert.rejects(area.seal(), /discarded/);
  });

  it('discard after a failed seal removes the staged files', async () => {
    const area = store.stage('job-fail', 1);
    await area.append('bad', Buffer.from('garbage'));
    await assert.rejects(area.seal(), isInvalidOutput('"bad"'));
    await assert.rejects(area.publish(), /failed/);
    await area.discard();
    assert.deepEqual(tree(path.join(dataDir, 'staging')), []);
  });

  it('refuses to publish over a committed attempt and can unpublish', async () => {
    const bytes = arrow.tableToIPC(sampleTable(10), 'stream');
    const first = store.stage('job-dup', 1);
    await first.append('out', bytes);
    await first.seal();
    const { dir } = await first.publish();

    const second = store.stage('job-dup', 1);
    await second.append('other', bytes);
    await second.seal();
    await assert.rejects(second.publish(), /already committed/);
    assert.deepEqual(tree(dir), ['out.parquet']);
    await second.discard();

    await store.unpublish(dir);
    assert.equal(fs.existsSync(dir), false);
    assert.equal(fs.existsSync(path.dirname(dir)), false);
    await assert.rejects(store.unpublish(path.join(dataDir, 'staging')), /not a committed output dir/);
  });

  it('cleanup removes orphan staging and unreferenced committed dirs, keeping referenced and active ones', async () => {
    const bytes = arrow.tableToIPC(sampleTable(5), 'stream');
    async function commit(s: LocalOutputStore, job: string, attempt: number): Promise<string> {
      const area = s.stage(job, attempt);
      await area.append('out', bytes);
      await area.seal();
      return (await area.publish()).dir;
    }
    // A previous process: its commits and a half-received attempt.
    const previous = newStore();
    const kept = await commit(previous, 'job-a', 1);
    const orphanAttempt = await commit(previous, 'job-a', 2);
    const orphanJob = await commit(previous, 'job-b', 1);
    const leftover = previous.stage('job-c', 1);
    await leftover.append('out', bytes.subarray(0, 100));

    // This process: one attempt in flight, one just published (DB rows on their way).
    const active = store.stage('job-d', 1);
    await active.append('out', bytes);
    const fresh = await commit(store, 'job-e', 1);

    const { removed } = await store.cleanup(new Set([kept]));
    assert.deepEqual(removed.sort(), [leftover.dir, orphanAttempt, orphanJob].sort());
    assert.ok(fs.existsSync(kept));
    assert.ok(fs.existsSync(fresh));
    assert.ok(fs.existsSync(active.dir));
    assert.equal(fs.existsSync(path.dirname(orphanJob)), false);
    assert.deepEqual(tree(path.join(dataDir, 'outputs')), [
      'job-a', 'job-a/attempt-1', 'job-a/attempt-1/out.parquet',
      'job-e', 'job-e/attempt-1', 'job-e/attempt-1/out.parquet',
    ]);
    // The in-flight attempt still completes after cleanup.
    await active.seal();
    await active.publish();

    // A fresh process knows nothing of job-e's publish: unreferenced now means orphaned.
    const restarted = newStore();
    const again = await restarted.cleanup(new Set([kept, path.join(dataDir, 'outputs', 'job-d', 'attempt-1')]));
    assert.deepEqual(again.removed, [fresh]);
    await leftover.discard(); // the "previous process" never ended: close its open file
  });

  it('cleanup keeps the staging and committed dirs of leased attempts (another replica on a shared output root)', async () => {
    const bytes = arrow.tableToIPC(sampleTable(5), 'stream');
    // Another replica's store on the same root: one attempt being received, one published with its rows on the way.
    const other = newStore();
    const receiving = other.stage('job-r', 3);
    await receiving.append('out', bytes);
    const publishing = other.stage('job-p', 1);
    await publishing.append('out', bytes);
    await publishing.seal();
    const { dir: published } = await publishing.publish();
    // And what a lost attempt left: a staging dir and a published dir, neither leased nor referenced.
    const lost = other.stage('job-l', 2);
    await lost.append('out', bytes);
    const lostCommit = other.stage('job-q', 1);
    await lostCommit.append('out', bytes);
    await lostCommit.seal();
    const { dir: unreferenced } = await lostCommit.publish();

    const { removed } = await store.cleanup(new Set(), new Set(['job-r/attempt-3', 'job-p/attempt-1']));
    assert.deepEqual(removed.sort(), [lost.dir, unreferenced].sort());
    assert.ok(fs.existsSync(receiving.dir), 'the leased attempt being received stays');
    assert.ok(fs.existsSync(published), 'the leased attempt being committed stays');
    // The one being received still commits.
    await receiving.seal();
    await receiving.publish();
    await lost.discard().catch(() => undefined);
  });

  it('sweepStaging removes the staging dirs of attempts without a lease, and only those', async () => {
    const bytes = arrow.tableToIPC(sampleTable(5), 'stream');
    const other = newStore(); // another replica on the same root
    const leased = other.stage('job-s', 2);
    await leased.append('out', bytes);
    const lost = other.stage('job-s', 1);
    await lost.append('out', bytes);
    const gone = other.stage('job-t', 1);
    await gone.append('out', bytes);
    const mine = store.stage('job-u', 1); // in use by this process: never the sweep's to decide
    await mine.append('out', bytes);
    const asked: string[][] = [];
    const removed = await store.sweepStaging(async (ids) => {
      asked.push([...ids].sort());
      return new Set(['job-s/attempt-2']);
    });
    assert.deepEqual(asked, [['job-s', 'job-t']], 'one question, about the jobs of dirs not in use here');
    assert.deepEqual(removed.sort(), [lost.dir, gone.dir].sort());
    assert.ok(fs.existsSync(leased.dir) && fs.existsSync(mine.dir));
    assert.deepEqual(await store.sweepStaging(async () => new Set(['job-s/attempt-2'])), []);
    await mine.seal();
    await mine.publish();
    for (const a of [leased, lost, gone]) await a.discard().catch(() => undefined);
  });

  it('settleUncertain keeps a dir whose commit happened, removes one whose attempt lost its lease, waits on a leased one', async () => {
    const bytes = arrow.tableToIPC(sampleTable(5), 'stream');
    const dirs: string[] = [];
    for (const job of ['job-x', 'job-y', 'job-z']) {
      const area = store.stage(job, 1);
      await area.append('out', bytes);
      await area.seal();
      const { dir } = await area.publish();
      store.uncertain(dir, job, 1);
      dirs.push(dir);
    }
    const [committed, lost, leased] = dirs;
    const lookup = async () => ({ referenced: new Set([committed]), leased: new Set(['job-z/attempt-1']) });
    assert.deepEqual(await store.settleUncertain(lookup), [lost]);
    assert.ok(fs.existsSync(committed) && fs.existsSync(leased) && !fs.existsSync(lost));
    // Once job-z's attempt loses its lease, its dir goes; the committed one was decided and is not asked about again.
    const asked: string[][] = [];
    const removed = await store.settleUncertain(async (ids) => (asked.push(ids), { referenced: new Set(), leased: new Set() }));
    assert.deepEqual(removed, [leased]);
    assert.deepEqual(asked, [['job-z']]);
    assert.ok(fs.existsSync(committed));
  });

  it('removeLostAttempt removes what an attempt published, and says whether there was anything', async () => {
    const area = store.stage('job-lost', 3);
    await area.append('out', arrow.tableToIPC(sampleTable(5), 'stream'));
    await area.seal();
    const { dir } = await area.publish();
    assert.equal(await store.removeLostAttempt('job-lost', 3), true);
    assert.equal(fs.existsSync(dir), false);
    assert.equal(fs.existsSync(path.dirname(dir)), false, 'and the job dir, now empty');
    assert.equal(await store.removeLostAttempt('job-lost', 3), false);
  });

  it('cleanup works on an empty data dir', async () => {
    assert.deepEqual(await store.cleanup(new Set()), { removed: [] });
  });

  it('readAsIpc refuses paths outside the output root', async () => {
    await assert.rejects(collect(store.readAsIpc('/etc/passwd'), MiB), /outside the output root/);
  });

  describe('with rules (contracts, quarantine, lineage)', () => {
    const rules = (contracts?: AttemptRules['contracts']): AttemptRules => ({
      contracts,
      lineage: { jobId: 'job-rules', pluginVersion: '2.0.0' },
      metadata: { 'casparian.job_id': 'job-rules' },
    });
    const strings = (cols: Record<string, (string | null)[]>): Uint8Array =>
      arrow.tableToIPC(new arrow.Table(Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, arrow.vectorFromArray(v, new arrow.Utf8())]))), 'stream');
    const failsWith = (code: string) => (err: unknown) => err instanceof JobFailure && err.jobError.code === code;

    it('an output the contract does not declare is SCHEMA_MISMATCH naming the declared ones', async () => {
      const area = store.stage('job-rules', 1, rules({ rows: [{ name: 'id', type: 'int64', nullable: false }] }));
      await assert.rejects(area.append('other', strings({ id: ['1'] })), (e: unknown) => failsWith('SCHEMA_MISMATCH')(e) && /output "other" is not declared in the plugin's OUTPUTS \(declared: rows\)/.test((e as Error).message));
      await area.discard();
    });

    it(w.writers().appliesRules ? 'applies the contract: casts, sets bad rows aside, adds the lineage columns' : 'cannot apply a contract: CONTRACT_UNSUPPORTED, and without one commits the output as sent', async () => {
      const area = store.stage('job-rules', 1, rules({ rows: [{ name: 'id', type: 'int64', nullable: false }] }));
      area.setSourceHash('ab'.repeat(32));
      const bytes = strings({ id: ['1', 'x', '3'], _cf_row_error: ['', '', 'torn line'] });
      if (!w.writers().appliesRules) {
        await assert.rejects(area.append('rows', bytes), (e: unknown) => failsWith('CONTRACT_UNSUPPORTED')(e) && /--commit-writer pyarrow/.test((e as Error).message));
        await area.discard();
        const plain = store.stage('job-rules', 2, rules());
        await plain.append('rows', strings({ id: ['1'] }));
        const [out] = await plain.seal();
        assert.deepEqual(out.schema.map((f) => f.name), ['id'], 'parquet-wasm adds no lineage (docs/operations.md)');
        await plain.discard();
        return;
      }
      await area.append('rows', bytes);
      const staged = await area.seal();
      assert.deepEqual(staged.map((o) => [o.name, o.rows, o.quarantined]), [['rows', 1, 2], ['rows_quarantine', 2, undefined]]);
      assert.deepEqual(staged[0].schema.map((f) => `${f.name}:${f.type}`), ['id:Int64', '_cf_job_id:Dictionary<Int8, Utf8>', '_cf_source_hash:Dictionary<Int8, Utf8>', '_cf_plugin_version:Dictionary<Int8, Utf8>']);
      const { outputs } = await area.publish();
      assert.deepEqual(rowsOf(await fetchTable(outputs[0].parquetPath)), [{ id: 1n, _cf_job_id: 'job-rules', _cf_source_hash: 'ab'.repeat(32), _cf_plugin_version: '2.0.0' }]);
      const aside = rowsOf(await fetchTable(outputs[1].parquetPath)).map((r) => [r.id, r._cf_source_row, r._cf_reason]);
      assert.deepEqual(aside, [['x', 1n, "id: 'x' is not a valid int64"], ['3', 2n, '_cf_row_error: torn line']]);
    });
  });
});
}
