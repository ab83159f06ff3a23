/**
 * The whole pipeline on real parts: a Sentinel and Workers on localhost, real
 * Python, a pyarrow env that the worker provisions itself from the lockfile
 * shipped in Dispatch (no symlinks into a developer's .venv).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { ErrorClass, JobState } from '../../services/gen/casparian/v1/types';
import { VerdictStatus } from '../../services/gen/casparian/v1/dispatch';
import { RunRequest, WorkerClient, type RunResponse } from '../../services/gen/casparian/v1/worker';
import { channelOptions } from '../../services/common/grpc-server';
import { Cluster } from '../helpers/cluster';
import { REPO_ROOT, testHome } from '../helpers/python-env';
import { waitFor } from '../helpers/wait';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'plugins');
/**
 * A lockfile no other test uses (the comment changes its hash), so the env
 * cannot exist before this file runs: the worker must provision it.
 */
const E2E_LOCKFILE = '# casparian e2e: provisioned by the worker in pipeline.test\npyarrow==25.0.1\n';

function writeInputs(dir: string, n: number): { file: string; rows: [number, number][] }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const rows: [number, number][] = Array.from({ length: 5 + i }, (_, k) => [i * 100 + k, (i + 1) * 0.5 + k]);
    const file = path.join(dir, `input-${String(i).padStart(2, '0')}.csv`);
    fs.writeFileSync(file, '# id,value\n' + rows.map(([a, b]) => `${a},${b}`).join('\n') + '\n');
    out.push({ file, rows });
  }
  return out;
}

describe('e2e: pipeline on real Python', function () {
  this.timeout(600_000);
  let cluster: Cluster;

  before(async () => {
    // 8 slots: the first 8 jobs all need the new env at once.
    cluster = await Cluster.start({ workers: [{ slots: 8 }] });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('provisions the env itself, runs 20 jobs and returns the expected values', async () => {
    const envHash = await cluster.publish('double_values', fs.readFileSync(path.join(FIXTURES, 'double_values.py'), 'utf8'), { lockfile: E2E_LOCKFILE });
    assert.ok(!fs.existsSync(path.join(testHome(), 'venvs', envHash)), 'env must not exist before the jobs run');

    const inputs = writeInputs(cluster.inputDir, 20);
    const jobs = [];
    for (const i of inputs) jobs.push(await cluster.submit('double_values', i.file));
    const finals = await Promise.all(jobs.map((j) => cluster.waitJob(j.id, 300_000)));

    for (const f of finals) assert.equal(f.state, JobState.JOB_STATE_SUCCEEDED, `${f.inputPath}: ${f.error?.message}\n${f.error?.traceback}`);
    assert.ok(fs.existsSync(path.join(testHome(), 'venvs', envHash, 'bin', 'python')), 'the worker provisioned the env under CASPARIAN_HOME/venvs/{env_hash}');
    assert.ok(finals.some((f) => f.metrics?.envProvisioned), 'some attempt reports that it provisioned the env');
    const journal = fs
      .readFileSync(path.join(testHome(), 'venvs', '.logs', 'installs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; envHash: string });
    assert.equal(journal.filter((e) => e.envHash === envHash && e.event === 'start').length, 1, '8 concurrent jobs, exactly one install');

    for (let i = 0; i < inputs.length; i++) {
      const { ipc, info } = await cluster.client.fetchOutput(finals[i].id);
      assert.equal(info?.name, 'default');
      assert.equal(info?.rows, inputs[i].rows.length);
      const t = tableFromIPC(ipc);
      assert.deepEqual(
        t.toArray().map((r) => [Number(r.id), r.value, r.doubled, r.file]),
        inputs[i].rows.map(([a, b]) => [a, b, b * 2, path.basename(inputs[i].file)]),
      );
    }
  });

  it('a plugin that raises gives a failed job with its traceback', async () => {
    await cluster.publish('raises', fs.readFileSync(path.join(FIXTURES, 'raises_value_error.py'), 'utf8'), { lockfile: E2E_LOCKFILE });
    const [input] = writeInputs(cluster.inputDir, 1);
    const job = await cluster.waitJob((await cluster.submit('raises', input.file)).id);
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.errorClass, ErrorClass.ERROR_CLASS_PERMANENT);
    assert.equal(job.attempt, 1, 'a permanent error is not retried');
    assert.match(job.error!.message, /bad row 3/);
    assert.match(job.error!.traceback, /Traceback/);
    assert.match(job.error!.traceback, /ValueError: bad row 3/);
    assert.match(job.error!.traceback, /_check/);
  });

  it('a missing input file is a typed permanent error', async () => {
    const job = await cluster.waitJob((await cluster.submit('double_values', path.join(cluster.inputDir, 'nope.csv'))).id);
    assert.equal(job.state, JobState.JOB_STATE_FAILED);
    assert.equal(job.error?.code, 'INPUT_MISSING');
  });

  describe('strict mode (ADR-018)', () => {
    let strictHome: string;
    let strict: Cluster;
    before(async () => {
      strictHome = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-strict-home-'));
      strict = await Cluster.start({ workers: [{ envMode: 'strict', home: strictHome, port: 0 }] });
    });
    after(async () => {
      await strict?.stop();
      fs.rmSync(strictHome, { recursive: true, force: true });
    });

    it('Worker.Run on a strict worker without the env fails fast with ENV_MISSING', async () => {
      const [input] = writeInputs(strict.inputDir, 1);
      const client = new WorkerClient(`127.0.0.1:${strict.workers[0].port}`, grpc.credentials.createInsecure(), channelOptions());
      try {
        const call = client.run(RunRequest.fromPartial({ pluginName: 'double_values', source: fs.readFileSync(path.join(FIXTURES, 'double_values.py'), 'utf8'), lockfile: E2E_LOCKFILE, inputPath: input.file }));
        const events: RunResponse[] = [];
        for await (const ev of call as AsyncIterable<RunResponse>) events.push(ev);
        const last = events[events.length - 1].msg;
        assert.equal(last?.$case, 'verdict');
        if (last?.$case !== 'verdict') return;
        assert.equal(last.verdict.status, VerdictStatus.VERDICT_STATUS_FAILED);
        assert.equal(last.verdict.error?.code, 'ENV_MISSING');
        assert.equal(last.verdict.error?.errorClass, ErrorClass.ERROR_CLASS_ENV);
        assert.equal(last.verdict.error?.retryable, false);
        assert.ok(!fs.existsSync(path.join(strictHome, 'venvs', (await import('../../services/worker/envs/env-hash')).envHashOf(E2E_LOCKFILE))), 'strict mode creates nothing');
      } finally {
        client.close();
      }
    });

    it('the Sentinel does not dispatch to a strict worker lacking the env, and says why the job waits', async () => {
      await strict.publish('double_values', fs.readFileSync(path.join(FIXTURES, 'double_values.py'), 'utf8'), { lockfile: E2E_LOCKFILE });
      const [input] = writeInputs(strict.inputDir, 1);
      const job = await strict.submit('double_values', input.file);
      await waitFor('a waiting reason', async () => (await strict.getJob(job.id)).waitingReason !== '', 10_000);
      const got = (await strict.client.getJob({ jobId: job.id, includeLogs: false })).job!;
      assert.equal(got.state, JobState.JOB_STATE_QUEUED);
      assert.match(got.waitingReason, /no worker has env [0-9a-f]{12} and none may provision it/);
    });
  });
});
