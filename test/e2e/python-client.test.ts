/**
 * A Python client generated from proto/casparian/v1 with grpc_tools.protoc
 * drives a real Cluster: health, PublishPlugin, SubmitJob, WatchJob,
 * FetchOutput (decoded with pyarrow) and one bad call. This is the polyglot
 * promise of the contract: nothing but the .proto files and a stock gRPC
 * toolchain.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { Cluster } from '../helpers/cluster';
import { REPO_ROOT, testHome, testIndexUrl, SHARED_LOCKFILE } from '../helpers/python-env';

/** The same string as test/e2e/pipeline.test.ts, so the worker's pyarrow env is shared across test files. */
const E2E_LOCKFILE = SHARED_LOCKFILE;

/**
 * The client's own env: grpcio-tools generates the stubs, grpcio runs them,
 * pyarrow decodes FetchOutput. grpcio-tools 1.84.0 needs protobuf >=7.35.1,<8
 * and setuptools >=77; grpcio 1.84.0 needs typing-extensions ~=4.12.
 */
const PY_CLIENT_LOCKFILE = [
  '# casparian python-client test env',
  'grpcio==1.84.0',
  'grpcio-tools==1.84.0',
  'protobuf==7.36.2',
  'pyarrow==25.0.1',
  'setuptools==84.0.0',
  'typing-extensions==4.16.0',
  '',
].join('\n');

const CLIENT = path.join(REPO_ROOT, 'test', 'fixtures', 'python-client', 'client.py');
const PLUGIN = path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'double_values.py');
const HEALTH_PROTO_ROOT = path.join(REPO_ROOT, 'node_modules', 'grpc-health-check', 'proto');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

type Line = { step: string } & Record<string, unknown>;

describe('e2e: a Python client generated from the protos', function () {
  this.timeout(600_000);
  let python: string;
  let genDir: string;
  let workDir: string;
  let cluster: Cluster;

  before(async () => {
    const manager = new EnvManager({
      home: testHome(),
      mode: 'auto',
      basePython: process.env.CASPARIAN_PYTHON ?? 'python3',
      indexUrl: testIndexUrl(),
      installTimeoutMs: 600_000,
      lockWaitTimeoutMs: 600_000,
      failureCacheMs: 0,
      logger: silentLogger,
    }, { env: process.env });
    const lease = await manager.acquire(envHashOf(PY_CLIENT_LOCKFILE), PY_CLIENT_LOCKFILE);
    lease.release();
    python = lease.python;
    genDir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-pygen-'));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-pyclient-'));
    cluster = await Cluster.start({ workers: [{ slots: 2 }] });
  });
  after(async () => {
    await cluster?.stop();
    for (const d of [genDir, workDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('grpc_tools.protoc generates importable stubs for every proto and grpc.health.v1', async () => {
    const protos = fs
      .readdirSync(path.join(REPO_ROOT, 'proto', 'casparian', 'v1'))
      .filter((f) => f.endsWith('.proto'))
      .map((f) => `proto/casparian/v1/${f}`);
    assert.ok(protos.length >= 4, `found protos: ${protos.join(', ')}`);
    const gen = await run(
      python,
      ['-m', 'grpc_tools.protoc', '-I', 'proto', '-I', HEALTH_PROTO_ROOT, `--python_out=${genDir}`, `--grpc_python_out=${genDir}`, ...protos, 'health/v1/health.proto'],
      { cwd: REPO_ROOT, timeoutMs: 60_000 },
    );
    assert.equal(gen.code, 0, `protoc failed:\n${gen.stderr}`);
    for (const p of protos) {
      const base = path.basename(p, '.proto');
      assert.ok(fs.existsSync(path.join(genDir, 'casparian', 'v1', `${base}_pb2.py`)), `${base}_pb2.py generated`);
    }
    assert.ok(fs.existsSync(path.join(genDir, 'casparian', 'v1', 'sentinel_pb2_grpc.py')));
    assert.ok(fs.existsSync(path.join(genDir, 'health', 'v1', 'health_pb2_grpc.py')));
    // google/protobuf/timestamp.proto is resolved from grpc_tools' bundled includes, and the stubs import cleanly.
    const imp = await run(python, ['-c', 'from casparian.v1 import sentinel_pb2_grpc, worker_pb2_grpc, types_pb2; print(types_pb2.Job.DESCRIPTOR.fields_by_name["created_at"].message_type.full_name)'], {
      env: { ...process.env, PYTHONPATH: genDir },
      timeoutMs: 60_000,
    });
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal(imp.stdout.trim(), 'google.protobuf.Timestamp');
  });

  it('publishes, submits, watches, fetches and decodes the output, and gets INVALID_ARGUMENT for a bad call', async () => {
    assert.ok(fs.existsSync(path.join(genDir, 'casparian', 'v1', 'sentinel_pb2_grpc.py')), 'stubs were generated by the previous test');
    const rows: [number, number][] = [
      [7, 1.5],
      [8, -2.25],
      [9, 1e6],
      [10, 0],
    ];
    const input = path.join(workDir, 'py-input.csv');
    fs.writeFileSync(input, '# id,value\n' + rows.map(([a, b]) => `${a},${b}`).join('\n') + '\n');
    const lockfile = path.join(workDir, 'lock.txt');
    fs.writeFileSync(lockfile, E2E_LOCKFILE);

    const res = await run(
      python,
      [CLIENT, '--target', cluster.address, '--plugin', PLUGIN, '--lockfile', lockfile, '--name', 'py_double', '--version', '2.0.0', '--input', input],
      { env: { ...process.env, PYTHONPATH: genDir }, timeoutMs: 400_000 },
    );
    assert.equal(res.code, 0, `client.py failed (${res.code}):\n${res.stdout}\n${res.stderr}`);
    const lines: Line[] = res.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Line);
    const step = (s: string) => lines.filter((l) => l.step === s);

    // grpc.health.v1
    assert.deepEqual(
      step('health').map((h) => [h.service, h.status]),
      [
        ['', 'SERVING'],
        ['casparian.v1.Sentinel', 'SERVING'],
      ],
    );

    // PublishPlugin: the env hash is the sha256 of the lockfile bytes, computed the same way by the product.
    const [pub] = step('publish');
    assert.equal(pub.name, 'py_double');
    assert.equal(pub.version, '2.0.0');
    assert.equal(pub.created, true);
    assert.equal(pub.env_hash, envHashOf(E2E_LOCKFILE));
    const plugins = (await cluster.client.listPlugins({ name: 'py_double' })).plugins;
    assert.equal(plugins.length, 1);
    assert.equal(plugins[0].manifest?.description, 'published by the Python client');

    // SubmitJob
    const [sub] = step('submit');
    assert.equal(sub.state, 'JOB_STATE_QUEUED');
    const jobId = sub.job_id as string;
    assert.match(jobId, /\S/);

    // WatchJob: a snapshot first, a final SUCCEEDED state last, and the server ended the stream there.
    const watch = step('watch');
    assert.ok(watch.length >= 2, `watch events: ${JSON.stringify(watch)}`);
    assert.equal(watch[0].kind, 'JOB_EVENT_KIND_STATE');
    const last = watch[watch.length - 1];
    assert.deepEqual([last.kind, last.state], ['JOB_EVENT_KIND_STATE', 'JOB_STATE_SUCCEEDED']);
    assert.equal(watch.filter((w) => w.state === 'JOB_STATE_SUCCEEDED' && w.kind === 'JOB_EVENT_KIND_STATE').length, 1, 'exactly one final state event');
    assert.deepEqual(step('final').map((f) => f.state), ['JOB_STATE_SUCCEEDED']);

    // FetchOutput decoded by pyarrow: check the values, not just the counts.
    const [out] = step('output');
    assert.equal(out.name, 'default');
    assert.equal(Number(out.rows), rows.length);
    assert.equal(out.decoded_rows, rows.length);
    assert.deepEqual(out.schema, ['id:int64', 'value:double', 'doubled:double', 'file:string']);
    assert.ok((out.max_message_bytes as number) <= 1024 * 1024);
    assert.deepEqual(
      step('row').map((r) => r.row),
      rows.map(([id, value]) => ({ id, value, doubled: value * 2, file: 'py-input.csv' })),
    );
    const job = (await cluster.client.getJob({ jobId, includeLogs: false })).job!;
    assert.equal(Number(job.metrics?.rows), rows.length);

    // The bad call: a relative input_path is INVALID_ARGUMENT, and the message names the field and the problem.
    const [bad] = step('bad_call');
    assert.equal(bad.code, 'INVALID_ARGUMENT', `details: ${bad.details}`);
    assert.match(bad.details as string, /input_path must be an absolute path, got "relative\/input\.csv"/);
  });
});
