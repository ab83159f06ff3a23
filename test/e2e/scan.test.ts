/**
 * casparian scan on real processes: a Sentinel and a worker started through
 * the CLI, real Python and pyarrow, the CLI as a subprocess. One job per
 * matching file; file identity (size + mtime, then sha256) makes a re-scan
 * queue only new and changed files; --glob, --wait, --watch, queue controls
 * and the errors of SubmitScan.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli, showCli } from '../helpers/cli-run';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { CLI } from '../helpers/managed-proc';
import { ProcCluster } from '../helpers/proc-cluster';
import { REPO_ROOT } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';

interface ScanJson {
  batchId: string;
  enqueued: number;
  skipped: number;
  matched: number;
  errors: number;
  errorFiles: { path: string; message: string }[];
  counts?: { total: number; succeeded: number; failed: number };
}

/** scan --json prints canonical proto3 JSON, which leaves zeros and empty fields out: put them back for the asserts. */
const scanJson = (text: string): ScanJson => ({ batchId: '', enqueued: 0, skipped: 0, matched: 0, errors: 0, errorFiles: [], ...(JSON.parse(text) as Partial<ScanJson>) });

describe('e2e: casparian scan', function () {
  this.timeout(600_000);
  let c: ProcCluster;
  before(async () => {
    c = await ProcCluster.start({ workers: ['w1'], slots: 2 });
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);
  });
  after(() => c?.stop());

  let n = 0;
  /** A fresh directory in the input root. */
  const dir = (): string => {
    const d = path.join(c.inputDir, `scan-${++n}`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const scan = async (root: string, ...extra: string[]): Promise<ScanJson> => {
    const r = await runCli(['scan', root, '--plugin', 'values', '--glob', '*.csv', '--json', '--sentinel', c.address, ...extra], { timeoutMs: 280_000 });
    assert.equal(r.code, 0, showCli(r));
    return scanJson(r.stdout);
  };
  const batchPaths = async (batchId: string): Promise<string[]> => {
    assert.ok(batchId, 'the scan named a batch');
    return (await c.client.listJobs({ batchId, pageSize: 1000 })).jobs.map((j) => j.inputPath).sort();
  };

  it('queues one job per file, and the jobs succeed on real pyarrow (--wait)', async () => {
    const d = dir();
    const files = [0, 1, 2].map((i) => writeCsv(d, `f${i}.csv`, 3, i));
    const s = await scan(d, '--wait');
    assert.deepEqual([s.matched, s.enqueued, s.skipped, s.errors], [3, 3, 0, 0]);
    assert.deepEqual(s.counts && [s.counts.total, s.counts.succeeded], [3, 3]);
    assert.deepEqual(await batchPaths(s.batchId), files.sort());
    const job = (await c.client.listJobs({ batchId: s.batchId, pageSize: 10 })).jobs[0];
    const { info } = await c.client.fetchOutput(job.id);
    assert.equal(info?.rows, 3, 'the plugin read the file and pyarrow wrote its rows');
  });

  it('a re-scan queues only new and changed files: unchanged and touched files are skipped', async () => {
    const d = dir();
    const files = [0, 1, 2, 3].map((i) => writeCsv(d, `f${i}.csv`, 2, i));
    const first = await scan(d);
    assert.deepEqual([first.enqueued, first.skipped], [4, 0]);

    const again = await scan(d);
    assert.deepEqual([again.matched, again.enqueued, again.skipped, again.batchId], [4, 0, 4, ''], 'nothing changed: nothing queued, no batch');

    writeCsv(d, 'f1.csv', 2, 77); // same size, new content
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(files[1], later, later);
    const changed = await scan(d);
    assert.deepEqual([changed.enqueued, changed.skipped], [1, 3]);
    assert.deepEqual(await batchPaths(changed.batchId), [files[1]]);

    const touched = new Date(Date.now() + 10_000);
    fs.utimesSync(files[2], touched, touched); // new mtime, same content
    const afterTouch = await scan(d);
    assert.deepEqual([afterTouch.enqueued, afterTouch.skipped], [0, 4], 'a touched file with the same content is skipped');

    const added = writeCsv(d, 'f4.csv', 2, 4);
    const afterAdd = await scan(d, '--wait');
    assert.deepEqual([afterAdd.enqueued, afterAdd.skipped], [1, 4]);
    assert.deepEqual(await batchPaths(afterAdd.batchId), [added]);
    assert.equal(afterAdd.counts?.succeeded, 1);
  });

  it('--glob picks files: a bare pattern matches names at any depth, one with "/" the relative path; hidden entries and symlinked dirs are passed over', async () => {
    const d = dir();
    const top = writeCsv(d, 'a.csv', 1);
    fs.mkdirSync(path.join(d, 'sub', 'deep'), { recursive: true });
    const sub = writeCsv(path.join(d, 'sub'), 'b.csv', 1);
    const deep = writeCsv(path.join(d, 'sub', 'deep'), 'c.csv', 1);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'not csv\n');
    fs.mkdirSync(path.join(d, '.hidden'));
    writeCsv(path.join(d, '.hidden'), 'h.csv', 1);
    writeCsv(d, '.dot.csv', 1);
    fs.symlinkSync(path.join(d, 'sub'), path.join(d, 'linked-dir'));

    const deepOnly = await scan(d, '--glob', 'sub/deep/*.csv');
    assert.deepEqual(await batchPaths(deepOnly.batchId), [deep]);
    const all = await scan(d); // --glob '*.csv' (the helper's) comes first; the rest are new
    assert.deepEqual([all.matched, all.enqueued, all.skipped], [3, 2, 1]);
    assert.deepEqual(await batchPaths(all.batchId), [top, sub].sort());
    const txt = await scan(d, '--glob', '**/*.txt');
    assert.deepEqual([txt.matched, txt.enqueued], [1, 1]);
  });

  it('--priority and --not-before apply to every job of the scan', async () => {
    const d = dir();
    writeCsv(d, 'p0.csv', 1);
    writeCsv(d, 'p1.csv', 1);
    const s = await scan(d, '--priority=-3', '--not-before', '+1h');
    const jobs = (await c.client.listJobs({ batchId: s.batchId, pageSize: 10 })).jobs;
    assert.equal(jobs.length, 2);
    for (const j of jobs) {
      assert.equal(j.priority, -3);
      assert.ok(j.notBefore && j.notBefore.getTime() > Date.now() + 3_000_000, `not_before ${j.notBefore?.toISOString()}`);
      assert.equal(j.state, JobState.JOB_STATE_QUEUED);
    }
    for (const j of jobs) await c.client.cancelJob({ jobId: j.id, reason: 'test done' });
  });

  it('--wait exits non-zero when a job fails, and shows the batch', async () => {
    const d = dir();
    writeCsv(d, 'good.csv', 2);
    fs.writeFileSync(path.join(d, 'bad.csv'), 'x,y\n');
    const r = await runCli(['scan', d, '--plugin', 'values', '--glob', '*.csv', '--max-attempts', '1', '--wait', '--sentinel', c.address], { timeoutMs: 280_000 });
    assert.equal(r.code, 1, showCli(r));
    assert.match(r.stdout, /scanned .*: 2 files matched, 2 enqueued, 0 unchanged, 0 errors; batch /);
    assert.match(r.stdout, /good\.csv/);
    assert.match(r.stderr, /2\/2 done: 1 succeeded, 1 failed/);
    const ok = await runCli(['scan', d, '--plugin', 'values', '--glob', 'good.csv', '--wait', '--sentinel', c.address]);
    assert.equal(ok.code, 0, showCli(ok));
  });

  it('errors: unknown plugin, root outside the input roots, missing root, a file as root, a bad glob; a broken file is named, not fatal', async () => {
    const d = dir();
    const cli = (...args: string[]) => runCli(['scan', ...args, '--sentinel', c.address]);
    const expect = async (args: string[], re: RegExp) => {
      const r = await cli(...args);
      assert.equal(r.code, 1, showCli(r));
      assert.match(r.stderr, re, showCli(r));
    };
    await expect([d, '--plugin', 'nope'], /NOT_FOUND: plugin nope is not published/);
    await expect([REPO_ROOT, '--plugin', 'values'], /PERMISSION_DENIED: root: input_path .* is outside the Sentinel's input roots/);
    await expect([path.join(d, 'missing'), '--plugin', 'values'], /NOT_FOUND: root .*missing does not exist/);
    await expect([writeCsv(d, 'plain.csv', 1), '--plugin', 'values'], /INVALID_ARGUMENT: root .*plain\.csv is not a directory/);
    await expect([d, '--plugin', 'values', '--glob', '[a-'], /INVALID_ARGUMENT: glob "\[a-" is invalid/);
    await expect([d, '--plugin', 'values', '--glob', '../*.csv'], /INVALID_ARGUMENT: glob .*"\.\." segment/);

    fs.symlinkSync(path.join(d, 'gone.csv'), path.join(d, 'dangling.csv'));
    fs.symlinkSync(path.join(REPO_ROOT, 'package.json'), path.join(d, 'escape.csv'));
    const s = await scan(d);
    assert.deepEqual([s.matched, s.enqueued, s.errors], [1, 1, 2]);
    const named = Object.fromEntries(s.errorFiles.map((e) => [path.basename(e.path), e.message]));
    assert.match(named['dangling.csv'], /ENOENT/);
    assert.match(named['escape.csv'], /outside the input roots/);
    const text = await cli(d, '--plugin', 'values', '--glob', '*.csv');
    assert.equal(text.code, 0, showCli(text));
    assert.match(text.stderr, /cannot scan .*dangling\.csv: ENOENT/);
  });

  it('cancelling the call stops the walk; what was committed stays queued and the next scan queues only the rest', async () => {
    const d = dir();
    const n = 4000;
    for (let i = 0; i < n; i++) fs.writeFileSync(path.join(d, `c${i}.csv`), `# id,value\n${i},1\n`);
    await c.client.pausePlugin({ name: 'values', version: '1.0.0', reason: 'count queued jobs' });
    try {
      let first: { batchId: string; enqueued: number } | undefined;
      for await (const m of c.client.submitScan({ root: d, glob: '*.csv', pluginName: 'values' })) {
        first = m;
        break; // cancels the call after the first chunk's progress
      }
      assert.ok(first && first.enqueued > 0 && first.enqueued < n, JSON.stringify(first));
      await new Promise((r) => setTimeout(r, 1_000));
      const committed = (await c.client.listJobs({ batchId: first.batchId, pageSize: 10_000 })).jobs.length;
      assert.ok(committed < n, `the cancelled scan went on to queue ${committed} of ${n}`);
      const rest = await scan(d);
      assert.deepEqual([rest.enqueued, rest.skipped], [n - committed, committed]);
      for (const id of [first.batchId, rest.batchId]) {
        for (const j of (await c.client.listJobs({ batchId: id, pageSize: 10_000 })).jobs) await c.client.cancelJob({ jobId: j.id, reason: 'test done' });
      }
    } finally {
      await c.client.resumePlugin({ name: 'values', version: '1.0.0' });
    }
  });

  it('--watch queues a new file within seconds, and ends cleanly on SIGINT', async () => {
    const d = dir();
    writeCsv(d, 'first.csv', 1);
    const env = { ...process.env };
    delete env.CASPARIAN_SENTINEL;
    const child = spawn(process.execPath, [CLI, 'scan', d, '--plugin', 'values', '--glob', '*.csv', '--watch', '--debounce-ms', '200', '--json', '--sentinel', c.address], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const lines = (): ScanJson[] => out.split('\n').filter(Boolean).map(scanJson);
    try {
      await waitFor('the first scan', () => lines().length >= 1, 60_000);
      assert.equal(lines()[0].enqueued, 1);
      const added = writeCsv(d, 'second.csv', 1);
      const t0 = Date.now();
      const hit = await waitFor('a scan queueing the new file', () => lines().slice(1).find((l) => l.enqueued > 0), 20_000);
      assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
      assert.deepEqual(await batchPaths(hit.batchId), [added]);
      child.kill('SIGINT');
      assert.equal(await exited, 0, `stdout:\n${out}\nstderr:\n${err}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
