import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envHashOf } from '../../../services/worker/envs/env-hash';
import { EnvManager } from '../../../services/worker/envs/env-manager';
import type { EnvManagerConfig, EnvManagerDeps } from '../../../services/worker/envs/types';
import { envManagerConfig, expectJobFailure } from '../../helpers/env-fixtures';

/** Manager tests that need no package install (uv is never found: `which` returns undefined). */
describe('envs/EnvManager (no installs)', function () {
  this.timeout(20_000);
  let home: string;
  beforeEach(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-envmgr-'))));
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  function manager(cfg: Partial<EnvManagerConfig> = {}, deps: Partial<EnvManagerDeps> = {}): EnvManager {
    return new EnvManager(
      envManagerConfig(home, { installTimeoutMs: 60_000, lockWaitTimeoutMs: 1000, ...cfg }),
      { which: () => undefined, ...deps, env: deps.env ?? process.env },
    );
  }

  it('refuses a lockfile that does not hash to the env hash', async () => {
    const f = await expectJobFailure(manager().acquire(envHashOf('a==1\n'), 'b==1\n'));
    assert.equal(f.jobError.errorClass, 'env');
    assert.equal(f.jobError.code, 'ENV_PROVISION_FAILED');
    assert.match(f.message, /lockfile does not match env hash/);
  });

  it('refuses a malformed env hash before touching the disk', async () => {
    const f = await expectJobFailure(manager().acquire('../../etc', 'x'));
    assert.match(f.message, /invalid env hash/);
    assert.deepEqual(fs.readdirSync(home), []);
  });

  it('strict mode: a missing env is a permanent ENV_MISSING that says where it looked and how to fix it', async () => {
    const lock = 'pyarrow==25.0.1\n';
    const hash = envHashOf(lock);
    const f = await expectJobFailure(manager({ mode: 'strict' }).acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_MISSING');
    assert.equal(f.jobError.retryable, false);
    assert.ok(f.message.includes(hash));
    assert.ok(f.message.includes(path.join(home, 'venvs', hash)));
    assert.match(f.message, /casparian env provision/);
    assert.match(f.message, /casparian env link/);
    assert.equal(fs.existsSync(path.join(home, 'venvs', '.logs', 'installs.jsonl')), false);
  });

  it('strict mode: a directory without a marker is never used', async () => {
    const lock = 'pyarrow==25.0.1\n';
    const hash = envHashOf(lock);
    fs.mkdirSync(path.join(home, 'venvs', hash, 'bin'), { recursive: true });
    fs.symlinkSync(fs.realpathSync('/usr/bin/env'), path.join(home, 'venvs', hash, 'bin', 'python'));
    const m = manager({ mode: 'strict' });
    const inv = await m.init();
    assert.equal(inv.length, 1);
    assert.equal(inv[0].status, 'broken');
    assert.match(inv[0].problem ?? '', /no marker/);
    const f = await expectJobFailure(m.acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_MISSING');
    assert.match(f.message, /unusable: no marker/);
  });

  it('fails with the needed and found versions when the lockfile wants another Python', async () => {
    const lock = '# python: 3.99\npyarrow==25.0.1\n';
    const f = await expectJobFailure(manager().acquire(envHashOf(lock), lock));
    assert.equal(f.jobError.code, 'ENV_PROVISION_FAILED');
    assert.match(f.message, /needs Python 3\.99 but the base interpreter "python3" is Python 3\.\d+\.\d+/);
  });

  it('says so when the base interpreter does not exist', async () => {
    const lock = 'pyarrow==25.0.1\n';
    const f = await expectJobFailure(manager({ basePython: '/nonexistent/python3.42' }).acquire(envHashOf(lock), lock));
    assert.equal(f.jobError.code, 'ENV_PROVISION_FAILED');
    assert.match(f.message, /base interpreter "\/nonexistent\/python3\.42" does not run: ENOENT/);
  });

  it('a uv.lock without uv on PATH fails with a way out', async () => {
    const lock = 'version = 1\n[[package]]\nname = "pyarrow"\nversion = "25.0.1"\nsource = { registry = "https://pypi.org/simple" }\n';
    const f = await expectJobFailure(manager().acquire(envHashOf(lock), lock));
    assert.match(f.message, /uv\.lock.*uv export/);
  });

  it('init removes leftover temp dirs of dead installs but not of live ones', async () => {
    const venvs = path.join(home, 'venvs');
    const dead = path.join(venvs, '.tmp-abcdef012345-999999999-0a0b0c0d');
    const live = path.join(venvs, `.tmp-abcdef012345-${process.ppid}-0a0b0c0d`);
    fs.mkdirSync(path.join(dead, 'env'), { recursive: true });
    fs.mkdirSync(live, { recursive: true });
    await manager().init();
    assert.equal(fs.existsSync(dead), false);
    assert.equal(fs.existsSync(live), true);
  });
});
