/**
 * The compiled `casparian` CLI as a user runs it: a real subprocess
 * (`node dist/tools/casparian.js …`, cwd = repo root) against a real Cluster.
 * Checks exit codes (0 ok, 1 failed job or RPC error, 2 usage), what is printed,
 * and the files `fetch` writes.
 */
import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli as cli, showCli as show } from '../helpers/cli-run';
import { Cluster } from '../helpers/cluster';
import { freePort } from '../helpers/managed-proc';
import { clusterStore } from '../helpers/stores';
import { SHARED_LOCKFILE } from '../helpers/python-env';

/** The same string as test/e2e/pipeline.test.ts, so the worker's pyarrow env is shared across test files. */
const E2E_LOCKFILE = SHARED_LOCKFILE;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe('integration: casparian CLI as a subprocess', function () {
  this.timeout(300_000);
  let cluster: Cluster;
  let dir: string;
  let lockfile: string;
  let input: string;
  let sentinel: string[];
  let jobId: string;
  const rows: [number, number][] = [
    [1, 0.5],
    [2, -1.25],
    [3, 10],
  ];
  /** A comma in the file name: the CSV must quote the `file` column. */
  const INPUT_NAME = 'in put, v1.csv';
  const csv = (): string => '# id,value\n' + rows.map(([a, b]) => `${a},${b}`).join('\n') + '\n';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-cli-'));
    lockfile = path.join(dir, 'lock.txt');
    fs.writeFileSync(lockfile, E2E_LOCKFILE);
    cluster = await Cluster.start({ workers: [{ slots: 2 }] });
    input = cluster.input(INPUT_NAME, csv());
    sentinel = ['--sentinel', cluster.address];
  });
  after(async () => {
    await cluster?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publish prints the plugin and its env hash; publishing the same content again is not an error', async () => {
    const r = await cli(['publish', 'test/fixtures/plugins/double_values.py', '--lockfile', lockfile, '--name', 'dv', '--version', '1.0.0', ...sentinel]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^published dv@1\\.0\\.0  env ${envHashOf(E2E_LOCKFILE).slice(0, 12)}  artifact [0-9a-f]{12}  unsigned\\n$`));
    const again = await cli(['publish', 'test/fixtures/plugins/double_values.py', '--lockfile', lockfile, '--name', 'dv', '--version', '1.0.0', '--json', ...sentinel]);
    assert.equal(again.code, 0, show(again));
    const res = JSON.parse(again.stdout);
    assert.equal(res.created, undefined, 'canonical proto3 JSON leaves a false bool out');
    assert.equal(res.plugin.envHash, envHashOf(E2E_LOCKFILE));
  });

  it('submit --wait follows the job to succeeded and exits 0', async () => {
    const r = await cli(['submit', 'dv', input, '--wait', ...sentinel], { timeoutMs: 280_000 });
    assert.equal(r.code, 0, show(r));
    const line = r.stdout.split('\n').find((l) => l.includes(input) && UUID.test(l));
    assert.ok(line, show(r));
    jobId = line.match(UUID)![0];
    assert.match(line, /\bsucceeded\b/);
    assert.match(line, /dv@1\.0\.0/);
    assert.match(r.stderr, /^1\/1 done: 1 succeeded; 0 running, 0 queued; [\d.]+ jobs\/s$/m, 'the progress view (plain lines off a TTY, on stderr) printed the final state');
    const job = (await cluster.client.getJob({ jobId, includeLogs: false })).job!;
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(job.inputPath, input);
  });

  it('jobs --json lists the job', async () => {
    assert.ok(jobId, 'needs the job of the submit test');
    const r = await cli(['jobs', '--json', ...sentinel]);
    assert.equal(r.code, 0, show(r));
    const res = JSON.parse(r.stdout) as { jobs: { id: string; state: unknown; inputPath: string; pluginName: string; attempt: unknown; maxAttempts: unknown; metrics?: { rows: unknown } }[] };
    const j = res.jobs.find((x) => x.id === jobId);
    assert.ok(j, r.stdout);
    assert.equal(j.pluginName, 'dv');
    assert.equal(j.inputPath, input);
    // Canonical proto3 JSON, as grpcurl prints it: the enum by name, uint64 as a string, uint32 as a number.
    assert.equal(j.state, 'JOB_STATE_SUCCEEDED');
    assert.equal(j.metrics?.rows, '3');
    assert.equal(j.attempt, 1);
    // The filter the docs show works on it as printed.
    const jq = spawnSync('jq', ['-r', '.jobs[] | select(.state == "JOB_STATE_SUCCEEDED") | .id'], { input: r.stdout, encoding: 'utf8' });
    if (jq.error) console.warn('    (jq not installed: the jq filter was not tried)');
    else assert.ok(jq.stdout.split('\n').includes(jobId), `jq: ${jq.stderr}${jq.stdout}`);
    const filtered = await cli(['jobs', '--state', 'failed', '--json', ...sentinel]);
    assert.equal(filtered.code, 0, show(filtered));
    assert.ok(!((JSON.parse(filtered.stdout).jobs ?? []) as { id: string }[]).some((x) => x.id === jobId), '--state failed leaves the succeeded job out');
  });

  it('jobs (table) and job ID show the state and the output', async () => {
    const table = await cli(['jobs', ...sentinel]);
    assert.equal(table.code, 0, show(table));
    assert.match(table.stdout, /^ID\s+PLUGIN\s+STATE\s+ATTEMPT\s+ROWS\s+INPUT/);
    assert.match(table.stdout, new RegExp(`${jobId}\\s+dv@1\\.0\\.0\\s+succeeded\\s+1/\\d+\\s+3\\s+`));

    const r = await cli(['job', jobId, ...sentinel]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^job\\s+${jobId}$`, 'm'));
    assert.match(r.stdout, /^state\s+succeeded$/m);
    assert.match(r.stdout, /^metrics\s+3 rows, /m);
    assert.match(r.stdout, /^output\s+default: 3 rows, \d+ bytes parquet — id:\S+, value:\S+, doubled:\S+, file:\S+/m);
  });

  it('fetch --format csv prints exactly the rows, RFC 4180 quoted', async () => {
    const r = await cli(['fetch', jobId, '--format', 'csv', ...sentinel]);
    assert.equal(r.code, 0, show(r));
    const lineage = `${jobId},${crypto.createHash('sha256').update(fs.readFileSync(input)).digest('hex')},1.0.0`;
    assert.equal(
      r.stdout,
      `id,value,doubled,file,_cf_job_id,_cf_source_hash,_cf_plugin_version\r\n1,0.5,1,"in put, v1.csv",${lineage}\r\n2,-1.25,-2.5,"in put, v1.csv",${lineage}\r\n3,10,20,"in put, v1.csv",${lineage}\r\n`,
    );
  });

  it('fetch --format table renders a table', async () => {
    const r = await cli(['fetch', jobId, ...sentinel]);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^id\s*\|\s*value\s*\|\s*doubled\s*\|\s*file\s*\|\s*_cf_job_id\s*\|\s*_cf_source_hash\s*\|\s*_cf_plugin_version$/);
    assert.equal(lines.length, 2 + rows.length, r.stdout);
    assert.match(lines[3], /-1\.25\s*\|\s*-2\.5\s*\|\s*in put, v1\.csv/);
  });

  it('fetch --out x.parquet writes a Parquet file with the rows', async () => {
    const out = path.join(dir, 'x.parquet');
    const r = await cli(['fetch', jobId, '--out', out, ...sentinel]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `wrote default (3 rows) to ${out}\n`);
    const bytes = fs.readFileSync(out);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PAR1');
    assert.equal(bytes.subarray(bytes.length - 4).toString('latin1'), 'PAR1');
    const t = tableFromIPC(readParquet(bytes).intoIPCStream());
    assert.deepEqual(
      t.toArray().map((x) => [Number(x.id), x.value, x.doubled, x.file]),
      rows.map(([a, b]) => [a, b, b * 2, 'in put, v1.csv']),
    );
  });

  it('fetch --out x.arrows writes the Arrow IPC stream as fetched', async () => {
    const out = path.join(dir, 'x.arrows');
    const r = await cli(['fetch', jobId, '--out', out, ...sentinel]);
    assert.equal(r.code, 0, show(r));
    const t = tableFromIPC(fs.readFileSync(out));
    assert.deepEqual(
      t.toArray().map((x) => Number(x.id)),
      rows.map(([a]) => a),
    );
  });

  it('workers lists the cluster worker; plugins --json lists dv', async () => {
    const w = await cli(['workers', ...sentinel]);
    assert.equal(w.code, 0, show(w));
    // On PostgreSQL (replicas possible) a REPLICA column says which Sentinel holds each worker's stream.
    if (clusterStore() === 'postgres') assert.match(w.stdout, /^WORKER\s+HOST\s+SLOTS\s+BUSY\s+MODE\s+REPLICA\s+ENVS\n\S+\s+\S+\s+\d+\s+\d+\s+\w+\s+\S+-\d+-[0-9a-f]{6}\s/);
    else assert.match(w.stdout, /^WORKER\s+HOST\s+SLOTS\s+BUSY\s+MODE\s+ENVS/);
    const [info] = (await cluster.client.listWorkers({})).workers;
    assert.match(w.stdout, new RegExp(`^${info.workerId}\\s+\\S+\\s+2\\s+0\\s+auto\\s+.*${envHashOf(E2E_LOCKFILE).slice(0, 12)}\\(`, 'm'));

    const p = await cli(['plugins', '--json', ...sentinel]);
    assert.equal(p.code, 0, show(p));
    const res = JSON.parse(p.stdout) as { plugins: { name: string; version: string; envHash: string }[] };
    const dv = res.plugins.filter((x) => x.name === 'dv');
    assert.deepEqual(
      dv.map((x) => [x.version, x.envHash]),
      [['1.0.0', envHashOf(E2E_LOCKFILE)]],
    );
  });

  it('CASPARIAN_SENTINEL is used when --sentinel is absent', async () => {
    const r = await cli(['plugins'], { env: { CASPARIAN_SENTINEL: cluster.address } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^dv\s+1\.0\.0\s+[0-9a-f]{12}/m);
  });

  it('a plugin that raises: submit --wait exits 1 and job ID prints the traceback', async () => {
    const pub = await cli(['publish', 'test/fixtures/plugins/raises_value_error.py', '--lockfile', lockfile, '--name', 'raises', '--version', '1.0.0', ...sentinel]);
    assert.equal(pub.code, 0, show(pub));
    const r = await cli(['submit', 'raises', input, '--wait', ...sentinel], { timeoutMs: 280_000 });
    assert.equal(r.code, 1, show(r));
    const line = r.stdout.split('\n').find((l) => UUID.test(l) && l.includes('raises@'));
    assert.ok(line, show(r));
    assert.match(line, /failed/);
    const failedId = line.match(UUID)![0];

    const d = await cli(['job', failedId, ...sentinel]);
    assert.equal(d.code, 0, show(d));
    assert.match(d.stdout, /^state\s+failed$/m);
    assert.match(d.stdout, /^error\s+\[permanent\/\S+\] .*bad row 3/m);
    assert.match(d.stdout, /Traceback \(most recent call last\):/);
    assert.match(d.stdout, /in _check/);
    assert.match(d.stdout, /^ValueError: bad row 3: value is not a number$/m);
  });

  it('fetch of a failed job exits 1 with the gRPC status', async () => {
    const list = JSON.parse((await cli(['jobs', '--state', 'failed', '--json', ...sentinel])).stdout) as { jobs: { id: string }[] };
    assert.ok(list.jobs.length >= 1);
    const r = await cli(['fetch', list.jobs[0].id, '--format', 'csv', ...sentinel]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^error: FAILED_PRECONDITION: job \S+ is failed; outputs exist only for succeeded jobs$/m);
    assert.equal(r.stdout, '');
  });

  describe('job cancel', () => {
    let strict: Cluster;
    let strictHome: string;
    before(async () => {
      // A strict worker on an empty home can never run the job: it stays queued.
      strictHome = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-cli-strict-'));
      strict = await Cluster.start({ workers: [{ envMode: 'strict', home: strictHome }] });
    });
    after(async () => {
      await strict?.stop();
      if (strictHome) fs.rmSync(strictHome, { recursive: true, force: true });
    });

    it('cancels a queued job and says so; a second cancel is refused with exit 1', async () => {
      const s = ['--sentinel', strict.address];
      const input = strict.input(INPUT_NAME, csv());
      const pub = await cli(['publish', 'test/fixtures/plugins/double_values.py', '--lockfile', lockfile, '--name', 'dv', ...s]);
      assert.equal(pub.code, 0, show(pub));
      const sub = await cli(['submit', 'dv', input, ...s]);
      assert.equal(sub.code, 0, show(sub));
      assert.match(sub.stdout, new RegExp(`^submitted ${UUID.source}  ${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      const id = sub.stdout.match(UUID)![0];

      const shown = await cli(['job', id, ...s]);
      assert.match(shown.stdout, /^state\s+queued/m, show(shown));

      const c = await cli(['job', 'cancel', id, '--reason', 'not needed', ...s]);
      assert.equal(c.code, 0, show(c));
      assert.equal(c.stdout, `${id} cancelled\n`);
      assert.equal((await strict.client.getJob({ jobId: id, includeLogs: false })).job!.state, JobState.JOB_STATE_CANCELLED);

      const again = await cli(['job', 'cancel', id, ...s]);
      assert.equal(again.code, 1, show(again));
      assert.match(again.stderr, /^error: FAILED_PRECONDITION: job \S+ is already cancelled/m);
    });
  });

  describe('usage errors exit 2 with a message, without contacting a Sentinel', () => {
    const cases: [string, string[], RegExp][] = [
      ['an unknown flag', ['jobs', '--bogus'], /unknown option '--bogus'/],
      ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
      ['submit without files', ['submit', 'dv'], /^usage: casparian submit NAME FILE\.\.\./],
      ['submit without anything', ['submit'], /^usage: casparian submit/],
      ['publish without --lockfile', ['publish', 'test/fixtures/plugins/double_values.py'], /^usage: casparian publish PLUGIN\.py --lockfile FILE/],
      ['fetch without a job', ['fetch'], /^usage: casparian fetch JOB/],
      ['job without an id', ['job'], /^usage: casparian job ID/],
      ['job cancel without an id', ['job', 'cancel'], /^usage: casparian job cancel ID/],
    ];
    for (const [what, args, re] of cases) {
      it(what, async () => {
        // A Sentinel address nobody listens on: a usage error must be reported before any RPC.
        const r = await cli([...args, '--sentinel', '127.0.0.1:1'], { timeoutMs: 30_000 });
        assert.equal(r.code, 2, show(r));
        assert.match(r.stderr, re);
        assert.equal(r.stdout, '');
      });
    }

    it('help exits 0 and lists the commands', async () => {
      const r = await cli(['help']);
      assert.equal(r.code, 0, show(r));
      for (const c of ['publish', 'submit', 'jobs', 'job cancel', 'fetch', 'workers', 'plugins']) assert.ok(r.stdout.includes(`casparian ${c}`), c);
    });
  });

  describe('an unreachable Sentinel', () => {
    it('exits 1 with UNAVAILABLE, promptly, for a read and for submit --wait', async () => {
      const port = await freePort();
      for (const args of [['jobs'], ['submit', 'dv', input, '--wait']]) {
        const r = await cli([...args, '--sentinel', `127.0.0.1:${port}`], { timeoutMs: 30_000 });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /^error: UNAVAILABLE: /m);
        assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
      }
    });
  });

  describe('input and connection errors', () => {
    const usage: [string, string[], RegExp][] = [
      ['a string flag without its value exits 2', ['submit', 'dv', 'x.csv', '--sentinel', '127.0.0.1:1', '--version'], /option '--version <V>' argument missing/],
      ['a boolean flag given a value exits 2', ['jobs', '--json=yes', '--sentinel', '127.0.0.1:1'], /'--json' does not take an argument/],
      ['an unknown --state exits 2', ['jobs', '--state', 'bogus', '--sentinel', '127.0.0.1:1'], /unknown state "bogus"/],
      ['a non-numeric --limit exits 2 naming the flag', ['jobs', '--limit', 'abc', '--sentinel', '127.0.0.1:1'], /--limit/],
      ['a non-numeric --max-attempts exits 2 naming the flag', ['submit', 'dv', '/tmp/x.csv', '--max-attempts', 'lots', '--sentinel', '127.0.0.1:1'], /--max-attempts/],
    ];
    for (const [what, args, re] of usage) {
      it(what, async () => {
        const r = await cli(args, { timeoutMs: 30_000 });
        assert.equal(r.code, 2, show(r));
        assert.match(r.stderr, re);
      });
    }

    // A Sentinel address that accepts TCP but never answers (a stalled Sentinel,
    // a wrong port on a non-gRPC service) must not hang a client command.
    it('gives up on a Sentinel that accepts connections but never answers (no hang)', async () => {
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((s) => {
        sockets.add(s);
        s.on('error', () => {});
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const port = (silent.address() as net.AddressInfo).port;
        const r = await cli(['jobs', '--sentinel', `127.0.0.1:${port}`, '--timeout', '2'], { timeoutMs: 60_000 });
        assert.notEqual(r.signal, 'SIGKILL', `the CLI hung for ${r.ms} ms and was killed`);
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /^error: (UNAVAILABLE|DEADLINE_EXCEEDED): /m);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => silent.close(() => r()));
      }
    });
  });
});
