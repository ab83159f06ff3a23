/**
 * The uv backend of the env manager, through the stand-in uv
 * (test/helpers/fake-uv.ts): uv venv + uv pip sync for requirements, uv sync
 * --frozen for a uv.lock, the startup self-check, and doctor.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envHashOf, shortHash } from '../../services/worker/envs/env-hash';
import { UV_LOCK, expectJobFailure } from '../helpers/env-fixtures';
import { FAKE_UV_DIR, importsPyarrow, useFakeUv, variant } from '../helpers/fake-uv';
import { testIndexUrl } from '../helpers/pip-index';

describe('envs: uv backend (stand-in uv)', function () {
  this.timeout(180_000);
  const u = useFakeUv('envs-uv-');

  it('uses uv when it is on PATH: uv venv + uv pip sync, recorded in the marker', async () => {
    const lock = variant('uv-basic');
    const hash = envHashOf(lock);
    const lease = await u.manager().acquire(hash, lock);
    assert.equal(lease.backend, 'uv');
    assert.equal(lease.provisioned, true);
    const calls = u.uvCalls(hash);
    assert.equal(calls.length, 2);
    const tmp = path.dirname(calls[0].argv[1]);
    assert.match(path.basename(tmp), new RegExp(`^\\.tmp-${shortHash(hash)}-${process.pid}-[0-9a-f]+$`));
    assert.deepEqual(calls[0].argv, ['venv', path.join(tmp, 'env'), '--python', 'python3']);
    const index = testIndexUrl() ? ['--index-url', testIndexUrl()!] : [];
    assert.deepEqual(calls[1].argv, ['pip', 'sync', path.join(tmp, 'requirements.txt'), '--python', path.join(tmp, 'env', 'bin', 'python'), ...index]);
    const marker = JSON.parse(fs.readFileSync(path.join(u.home, 'venvs', hash, '.casparian-env.json'), 'utf8'));
    assert.equal(marker.backend, 'uv');
    assert.equal(marker.lockfileKind, 'requirements');
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    assert.equal(fs.existsSync(tmp), false);
    lease.release();
  });

  it('passes --require-hashes for a hash-pinned lockfile (a wrong hash fails the install)', async () => {
    const lock = 'pyarrow==25.0.1 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n';
    const hash = envHashOf(lock);
    const f = await expectJobFailure(u.manager().acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_PROVISION_FAILED');
    assert.ok(u.uvCalls(hash)[1].argv.includes('--require-hashes'));
    assert.match(f.jobError.traceback ?? '', /DO NOT MATCH THE HASHES/);
  });

  it('provisions a uv.lock with uv sync --frozen into the temp env', async () => {
    const hash = envHashOf(UV_LOCK);
    const lease = await u.manager().acquire(hash, UV_LOCK);
    const calls = u.uvCalls(hash);
    assert.equal(calls.length, 1);
    const index = testIndexUrl() ? ['--index-url', testIndexUrl()!] : [];
    assert.deepEqual(calls[0].argv, ['sync', '--frozen', '--no-install-project', '--no-dev', '--python', 'python3', ...index]);
    assert.equal(path.basename(calls[0].cwd), 'project');
    assert.equal(calls[0].UV_PROJECT_ENVIRONMENT, path.join(path.dirname(calls[0].cwd), 'env'));
    const marker = JSON.parse(fs.readFileSync(path.join(u.home, 'venvs', hash, '.casparian-env.json'), 'utf8'));
    assert.deepEqual([marker.backend, marker.lockfileKind], ['uv', 'uv-lock']);
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    lease.release();
  });

  it('an env whose interpreter lost pyarrow fails the startup self-check and is rebuilt', async () => {
    const lock = variant('uv-basic');
    const hash = envHashOf(lock);
    const site = execFileSync(path.join(u.home, 'venvs', hash, 'bin', 'python'), ['-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: 'utf8' }).trim();
    fs.rmSync(path.join(site, 'pyarrow'), { recursive: true, force: true });
    const m = u.manager();
    const inv = await m.init();
    const e = inv.find((x) => x.envHash === hash)!;
    assert.equal(e.status, 'broken');
    assert.match(e.problem ?? '', /cannot import pyarrow/);
    const strict = u.manager({ mode: 'strict' });
    await strict.init();
    const f = await expectJobFailure(strict.acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_MISSING');
    assert.match(f.message, /cannot import pyarrow/);
    const lease = await m.acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    lease.release();
  });

  it('doctor checks the host and explains what is wrong with an env', async () => {
    const m = u.manager();
    const host = await m.doctor();
    assert.equal(host.ok, true, JSON.stringify(host.checks));
    const byName = Object.fromEntries(host.checks.map((c) => [c.name, c]));
    assert.match(byName.python.detail, /Python 3\./);
    assert.match(byName.uv.detail, new RegExp(`uv found at ${FAKE_UV_DIR}/uv`));
    assert.ok(byName['venv-module'].ok);

    const missing = await m.doctor(envHashOf('never built\n'));
    assert.equal(missing.ok, false);
    assert.match(missing.checks[0].detail, /does not exist/);

    const badIndex = await u.manager({ indexUrl: 'file:///nonexistent/casparian-index' }).doctor();
    assert.equal(badIndex.ok, false);
    assert.match(badIndex.checks.find((c) => c.name === 'index')!.detail, /does not exist/);

    const noPython = await u.manager({ basePython: '/nonexistent/python9' }).doctor();
    assert.equal(noPython.ok, false);
    assert.match(noPython.checks[0].detail, /does not run: ENOENT/);
  });

  it("an install sees only what it needs of the worker's environment, plus what the operator allows; URL credentials never reach its log or error", async () => {
    const lock = variant('uv-scrubbed');
    const hash = envHashOf(lock);
    const env = u.childEnv({ AWS_SECRET_ACCESS_KEY: 'aws-secret', CASPARIAN_TOKEN: 'cft_worker', OPERATOR_OPT_IN: 'yes', HTTPS_PROXY: 'http://proxy:3128' });
    const lease = await u.manager({ installEnvAllow: ['FAKE_UV_LOG', 'FAKE_UV_CACHE', 'OPERATOR_OPT_IN'] }, { env }).acquire(hash, lock);
    lease.release();
    const seen = u.uvCalls(hash).flatMap((c) => c.env_keys);
    assert.ok(seen.length > 0);
    for (const k of ['PATH', 'HOME', 'HTTPS_PROXY', 'OPERATOR_OPT_IN']) assert.ok(seen.includes(k), `${k} reaches the install`);
    for (const k of ['AWS_SECRET_ACCESS_KEY', 'CASPARIAN_TOKEN']) assert.ok(!seen.includes(k), `${k} must not reach the install`);

    const failing = variant('uv-redacted');
    const err = await expectJobFailure(
      u.manager({ indexUrl: 'https://builder:pa55word@packages.example/simple' }, { env: u.childEnv({ FAKE_UV_FAIL: 'no index', FAKE_UV_FAIL_ON: 'pip' }) }).acquire(envHashOf(failing), failing),
    );
    const log = fs.readFileSync(path.join(u.home, 'venvs', '.logs', `${envHashOf(failing)}.log`), 'utf8');
    for (const text of [err.jobError.message, err.jobError.traceback ?? '', log]) {
      assert.ok(!text.includes('pa55word'), `a credential leaked: ${text}`);
    }
    assert.ok(log.length > 0 && (err.jobError.traceback ?? '').length > 0, JSON.stringify({ log, err: err.jobError }));
    assert.match(log, /--index-url https:\/\/\*\*\*@packages\.example\/simple/);
  });
});
