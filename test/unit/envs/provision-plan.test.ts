import * as assert from 'node:assert/strict';
import { inspectLockfile } from '../../../services/worker/envs/lockfile-info';
import type { PlanInput } from '../../../services/worker/envs/install-plan';
import { planPip } from '../../../services/worker/envs/provision-pip';
import { planUv } from '../../../services/worker/envs/provision-uv';

function input(lockfile: string, indexUrl?: string): PlanInput {
  return { basePython: '/opt/py/bin/python3.11', envDir: '/h/venvs/.tmp-x/env', workDir: '/h/venvs/.tmp-x', lockfile, info: inspectLockfile(lockfile), indexUrl };
}

describe('envs/provision plans', () => {
  it('pip: venv from the base interpreter, then python -m pip install -r', () => {
    const p = planPip(input('pyarrow==25.0.1\n'));
    assert.equal(p.backend, 'pip');
    assert.deepEqual(p.files, [{ path: '/h/venvs/.tmp-x/requirements.txt', content: 'pyarrow==25.0.1\n' }]);
    assert.deepEqual(p.steps[0], { command: '/opt/py/bin/python3.11', args: ['-m', 'venv', '/h/venvs/.tmp-x/env'] });
    assert.deepEqual(p.steps[1], {
      command: '/h/venvs/.tmp-x/env/bin/python',
      args: ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', '/h/venvs/.tmp-x/requirements.txt'],
    });
  });

  it('pip: --require-hashes for hashed lockfiles, --index-url only when configured', () => {
    const p = planPip(input('pyarrow==25.0.1 --hash=sha256:00\n', 'file:///idx'));
    assert.deepEqual(p.steps[1].args.slice(-3), ['--require-hashes', '--index-url', 'file:///idx']);
  });

  it('pip: refuses a uv.lock with a way out', () => {
    assert.throws(() => planPip(input('version = 1\n[[package]]\nname = "a"\n')), /uv export/);
  });

  it('uv: venv + pip sync for requirements', () => {
    const p = planUv('/bin/uv', input('pyarrow==25.0.1 --hash=sha256:00\n', 'file:///idx'));
    assert.equal(p.backend, 'uv');
    assert.deepEqual(p.steps.map((s) => [s.command, ...s.args]), [
      ['/bin/uv', 'venv', '/h/venvs/.tmp-x/env', '--python', '/opt/py/bin/python3.11'],
      ['/bin/uv', 'pip', 'sync', '/h/venvs/.tmp-x/requirements.txt', '--python', '/h/venvs/.tmp-x/env/bin/python', '--index-url', 'file:///idx', '--require-hashes'],
    ]);
  });

  it('uv: sync --frozen in a scratch project for uv.lock', () => {
    const lock = 'version = 1\nrequires-python = ">=3.11"\n[[package]]\nname = "p"\nversion = "0"\nsource = { virtual = "." }\n';
    const p = planUv('/bin/uv', input(lock));
    assert.equal(p.steps.length, 1);
    assert.deepEqual(p.steps[0], {
      command: '/bin/uv',
      args: ['sync', '--frozen', '--no-install-project', '--no-dev', '--python', '/opt/py/bin/python3.11'],
      cwd: '/h/venvs/.tmp-x/project',
      env: { UV_PROJECT_ENVIRONMENT: '/h/venvs/.tmp-x/env' },
    });
    assert.deepEqual(p.files.map((f) => f.path), ['/h/venvs/.tmp-x/project/uv.lock', '/h/venvs/.tmp-x/project/pyproject.toml']);
    assert.equal(p.files[0].content, lock);
  });
});
