/**
 * The pip-installable Python client (clients/python, casparian-client) on
 * real processes: a fresh venv, `pip install clients/python` (its stubs are
 * generated from proto/ during that build), then a scenario script that uses
 * only the package against a Sentinel requiring mTLS and tokens, and a worker: publish,
 * submit one, submit many, watch, wait, fetch outputs as pyarrow Tables, and
 * the errors it raises (NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { hashToken, newToken } from '../../services/common/auth/tokens';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { testIndexUrl } from '../helpers/pip-index';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { REPO_ROOT, SHARED_LOCKFILE } from '../helpers/python-env';
import { makeTestCerts } from '../helpers/tls-certs';

const PACKAGE = path.join(REPO_ROOT, 'clients', 'python');
const SCENARIO = path.join(REPO_ROOT, 'test', 'fixtures', 'python-client', 'package_scenario.py');
const PLUGIN = path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'double_values.py');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

const show = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

type Line = { step: string } & Record<string, any>;

describe('integration: the casparian-client Python package (fresh venv, real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();
  let dir: string;
  let python: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-pypkg-'));
    const venv = path.join(dir, 'venv');
    const made = await run(process.env.CASPARIAN_PYTHON ?? 'python3', ['-m', 'venv', venv], process.env, 60_000);
    assert.equal(made.code, 0, show(made));
    python = path.join(venv, 'bin', 'python');
    // pip's isolated build env (setuptools, grpcio-tools) reads PIP_INDEX_URL, not --index-url.
    const index = testIndexUrl();
    const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', ...(index ? { PIP_INDEX_URL: index } : {}) };
    const pip = await run(python, ['-m', 'pip', 'install', '--quiet', PACKAGE], env, 240_000);
    assert.equal(pip.code, 0, `pip install ${PACKAGE}\n${show(pip)}`);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  clusters.it('publishes, submits one and many, watches, fetches pyarrow Tables and raises typed errors, over mTLS with a token, all from CASPARIAN_* variables', async () => {
    const clientToken = newToken();
    const workerToken = newToken();
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, `client ${hashToken(clientToken)} py\nworker ${hashToken(workerToken)} pool\n`);
    const certs = makeTestCerts(path.join(dir, 'certs'));
    const mtls = { CASPARIAN_TLS_CA: certs.ca, CASPARIAN_TLS_CERT: certs.clientCert, CASPARIAN_TLS_KEY: certs.clientKey };
    const pem = (f: string): Buffer => fs.readFileSync(f);
    const c = clusters.track(
      await ProcCluster.start({
        sentinelEnv: { CASPARIAN_TOKENS_FILE: tokens, CASPARIAN_TLS_CERT: certs.serverCert, CASPARIAN_TLS_KEY: certs.serverKey, CASPARIAN_TLS_CA: certs.ca, CASPARIAN_TLS_REQUIRE_CLIENT_CERT: '1' },
        clientCredentials: grpc.credentials.createSsl(pem(certs.ca), pem(certs.clientKey), pem(certs.clientCert)),
        clientToken,
      }),
    );
    await c.startWorker('w1', { env: { CASPARIAN_TOKEN: workerToken, ...mtls }, slots: 2 });

    const inputs: Record<string, [number, number][]> = {
      'one.csv': [
        [1, 0.5],
        [2, -3],
      ],
      'many-a.csv': [[10, 1e6]],
      'many-b.csv': [
        [20, 0],
        [21, 2.25],
        [22, -0.125],
      ],
    };
    const paths = Object.fromEntries(Object.entries(inputs).map(([name, rows]) => [name, c.input(name, '# id,value\n' + rows.map((r) => r.join(',')).join('\n') + '\n')]));
    const lockfile = path.join(dir, 'requirements.lock');
    fs.writeFileSync(lockfile, SHARED_LOCKFILE);

    const env = { ...process.env, CASPARIAN_SENTINEL: c.address, CASPARIAN_TOKEN: clientToken, ...mtls };
    const args = [SCENARIO, '--plugin', PLUGIN, '--lockfile', lockfile, '--name', 'py_pkg', '--version', '1.2.3', '--one', paths['one.csv'], '--many', paths['many-a.csv'], paths['many-b.csv']];
    const res = await run(python, args, env, 240_000);
    assert.equal(res.code, 0, show(res));
    const lines = res.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Line);
    const step = (s: string): Line[] => lines.filter((l) => l.step === s);
    const one = (s: string): Line => {
      const found = step(s);
      assert.equal(found.length, 1, `one "${s}" line in:\n${res.stdout}`);
      return found[0];
    };

    assert.deepEqual(one('connect'), { step: 'connect', address: c.address, has_token: true, secure: true });
    assert.deepEqual(one('publish'), { step: 'publish', name: 'py_pkg', version: '1.2.3', env_hash: envHashOf(SHARED_LOCKFILE), created: true });
    assert.equal(one('publish_again').created, false);
    const [plugin] = (await c.client.listPlugins({ name: 'py_pkg' })).plugins;
    assert.equal(plugin.manifest?.description, 'from casparian-client');

    const submitted = one('submit');
    assert.equal(submitted.state, 'JOB_STATE_QUEUED');
    const batch = one('submit_many');
    assert.equal(batch.created, true);
    assert.equal(batch.plugin_version, '1.2.3');
    assert.equal(batch.job_ids.length, 2);
    const listed = (await c.client.listJobs({ state: 0, pluginName: 'py_pkg', pageSize: 100, pageToken: '', batchId: batch.batch_id })).jobs;
    assert.deepEqual(listed.map((j) => j.id).sort(), [...batch.job_ids].sort());

    // WatchJob: a snapshot first, the final SUCCEEDED state last, where the iterator ended.
    const watch = step('watch');
    assert.ok(watch.length >= 2, JSON.stringify(watch));
    assert.equal(watch[0].kind, 'JOB_EVENT_KIND_STATE');
    assert.deepEqual([watch.at(-1)!.kind, watch.at(-1)!.state], ['JOB_EVENT_KIND_STATE', 'JOB_STATE_SUCCEEDED']);

    // Every output, as a pyarrow Table, holds exactly the rows of its input, plus the lineage columns.
    const outputs = step('output');
    assert.deepEqual(
      outputs.map((o) => o.job_id),
      [submitted.job_id, ...batch.job_ids],
    );
    for (const o of outputs) {
      const name = path.basename(o.input_path);
      const rows = inputs[name];
      assert.ok(rows, `input ${o.input_path}`);
      assert.equal(o.num_rows, rows.length);
      assert.deepEqual(o.columns, ['id', 'value', 'doubled', 'file', '_cf_job_id', '_cf_source_hash', '_cf_plugin_version']);
      assert.deepEqual(o.types.slice(0, 4), ['int64', 'double', 'double', 'string']);
      assert.deepEqual(
        o.rows,
        rows.map(([id, value]) => ({ id, value, doubled: value * 2, file: name })),
      );
    }
    assert.deepEqual(one('watch_batch'), { step: 'watch_batch', succeeded: 2, total: 2 });

    // Errors carry the gRPC status code, by class.
    assert.deepEqual([one('unknown_job').error, one('unknown_job').code], ['NotFoundError', 'NOT_FOUND']);
    assert.deepEqual([one('unknown_output').error, one('unknown_output').code], ['NotFoundError', 'NOT_FOUND']);
    assert.deepEqual([one('relative_path').error, one('relative_path').code], ['InvalidArgumentError', 'INVALID_ARGUMENT']);
    assert.match(one('relative_path').details, /input_path must be an absolute path/);
    assert.deepEqual([one('no_token').error, one('no_token').code], ['UnauthenticatedError', 'UNAUTHENTICATED']);
    assert.match(one('no_token').details, /needs a client token/);
    assert.deepEqual([one('bad_token').error, one('bad_token').code], ['UnauthenticatedError', 'UNAUTHENTICATED']);
    assert.deepEqual([one('wait_timeout').error, one('wait_timeout').code], ['DeadlineExceededError', 'DEADLINE_EXCEEDED']);
    assert.deepEqual([one('no_client_cert').error, one('no_client_cert').code], ['UnavailableError', 'UNAVAILABLE']);
  });
});
