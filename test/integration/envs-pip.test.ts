/**
 * The venv + pip backend on a real Python with the real pyarrow wheel
 * (from the index given by testIndexUrl()). Two installs: one good, one broken.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobFailure } from '../../services/common/job-error';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { EnvManager } from '../../services/worker/envs/env-manager';
import type { EnvManagerConfig } from '../../services/worker/envs/types';
import { envManagerConfig } from '../helpers/env-fixtures';
import { testIndexUrl } from '../helpers/pip-index';
import { PYARROW_LOCKFILE, testHome } from '../helpers/python-env';

describe('envs: venv + pip backend (real pyarrow install)', function () {
  this.timeout(300_000);
  const lockfile = fs.readFileSync(PYARROW_LOCKFILE, 'utf8');
  const hash = envHashOf(lockfile);
  let home: string;
  let clock: number;

  function manager(cfg: Partial<EnvManagerConfig> = {}): EnvManager {
    return new EnvManager(
      envManagerConfig(home, { indexUrl: testIndexUrl(), ...cfg }),
      { env: process.env, which: () => undefined, now: () => clock },
    );
  }
  const journal = () =>
    fs
      .readFileSync(path.join(home, 'venvs', '.logs', 'installs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; envHash: string; backend: string });

  before(() => {
    home = fs.mkdtempSync(path.join(testHome(), 'envs-pip-'));
    clock = Date.parse('2025-01-01T00:00:00Z');
  });

  it('provisions a missing env from the lockfile, renames it into place and marks it last', async () => {
    const m = manager();
    const added: string[] = [];
    m.onChange((c) => added.push(`${c.kind}:${c.env.envHash}`));
    const lines: string[] = [];
    const t0 = process.hrtime.bigint();
    const lease = await m.acquire(hash, lockfile, { log: (l) => lines.push(l) });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`      cold provision (venv + pip, pyarrow): ${seconds.toFixed(1)} s`);
    assert.equal(lease.provisioned, true);
    assert.equal(lease.backend, 'pip');
    assert.equal(lease.python, path.join(home, 'venvs', hash, 'bin', 'python'));
    assert.deepEqual(added, [`added:${hash}`]);
    assert.ok(lines.some((l) => /Successfully installed pyarrow-25\.0\.1/.test(l)), 'install output reaches the log listener');

    const marker = JSON.parse(fs.readFileSync(path.join(home, 'venvs', hash, '.casparian-env.json'), 'utf8'));
    assert.equal(marker.envHash, hash);
    assert.equal(marker.backend, 'pip');
    assert.equal(marker.pyarrowVersion, '25.0.1');
    assert.match(marker.pythonVersion, /^3\.\d+\.\d+$/);
    assert.equal(marker.lockfile, lockfile);
    assert.equal(marker.createdAt, '2025-01-01T00:00:00.000Z');

    // the renamed env works: bin/python finds its site-packages at the new path
    const out = execFileSync(lease.python, ['-I', '-c', 'import pyarrow, sys; print(pyarrow.__version__, sys.prefix)'], { encoding: 'utf8' });
    assert.equal(out.trim(), `25.0.1 ${path.join(home, 'venvs', hash)}`);

    const venvs = fs.readdirSync(path.join(home, 'venvs'));
    assert.deepEqual(venvs.filter((n) => n.startsWith('.tmp-') || n.endsWith('.lock')), [], 'no temp dir or lock left');
    assert.match(fs.readFileSync(path.join(home, 'venvs', '.logs', `${hash}.log`), 'utf8'), /-m pip install --disable-pip-version-check --no-input -r/);
    assert.deepEqual(journal().map((j) => [j.event, j.backend]), [['start', 'pip'], ['done', 'pip']]);
    assert.equal(m.inventory()[0].inUse, 1);
    lease.release();
    lease.release();
    assert.equal(m.inventory()[0].inUse, 0);
  });

  it('reuses the env on the next acquire (warm path), counting leases and last use', async () => {
    const m = manager();
    clock += 60_000;
    const a = await m.acquire(hash, lockfile);
    const b = await m.acquire(hash, lockfile);
    assert.equal(a.provisioned, false);
    assert.equal(b.provisioned, false);
    const env = m.inventory().find((e) => e.envHash === hash)!;
    assert.equal(env.inUse, 2);
    assert.equal(env.lastUsedAt, '2025-01-01T00:01:00.000Z');
    a.release();
    clock += 60_000;
    b.release();
    assert.equal(m.inventory()[0].inUse, 0);
    assert.equal(m.inventory()[0].lastUsedAt, '2025-01-01T00:02:00.000Z');
    assert.equal(journal().filter((j) => j.event === 'start').length, 1, 'no second install');
  });

  it('init verifies the env by running it and reports size, versions and last use', async () => {
    const inv = await manager({ mode: 'strict' }).init();
    assert.equal(inv.length, 1);
    const e = inv[0];
    assert.equal(e.status, 'ready');
    assert.equal(e.backend, 'pip');
    assert.equal(e.pyarrowVersion, '25.0.1');
    assert.ok((e.sizeBytes ?? 0) > 50 * 1024 * 1024, `size ${e.sizeBytes}`);
    assert.equal(e.lastUsedAt, '2025-01-01T00:02:00.000Z');
  });

  it('a broken lockfile fails with the pip error attached, and the failure is cached', async () => {
    const bad = 'casparian-no-such-package==1.0.0\n';
    const badHash = envHashOf(bad);
    const m = manager();
    let first: JobFailure | undefined;
    await m.acquire(badHash, bad).catch((e) => (first = e as JobFailure));
    assert.ok(first instanceof JobFailure);
    assert.equal(first.jobError.code, 'ENV_PROVISION_FAILED');
    assert.match(first.message, /installing env [0-9a-f]{64} \(pip\) failed: `python -m pip` exited with 1/);
    assert.match(first.jobError.traceback ?? '', /No matching distribution found for casparian-no-such-package==1\.0\.0/);
    assert.equal(fs.existsSync(path.join(home, 'venvs', badHash)), false);

    let second: JobFailure | undefined;
    await manager().acquire(badHash, bad).catch((e) => (second = e as JobFailure));
    assert.ok(second instanceof JobFailure);
    assert.equal(second.jobError.code, 'ENV_PROVISION_FAILED');
    assert.match(second.message, /cached failure from 2025-01-01T00:02:00\.000Z; not retried until 2025-01-01T00:03:00\.000Z/);
    assert.equal(second.jobError.traceback, first.jobError.traceback);
    assert.equal(journal().filter((j) => j.envHash === badHash && j.event === 'start').length, 1, 'the cached failure is returned without an install');
    assert.deepEqual(fs.readdirSync(path.join(home, 'venvs')).filter((n) => n.startsWith('.tmp-')), []);
  });
});
