import * as assert from 'node:assert/strict';
import { inspectLockfile, isUvLock, syntheticPyproject } from '../../../services/worker/envs/lockfile-info';
import { UV_LOCK } from '../../helpers/env-fixtures';


describe('envs/lockfile-info', () => {
  it('recognises a uv.lock by its version line and [[package]] tables', () => {
    assert.equal(isUvLock(UV_LOCK), true);
    assert.equal(isUvLock('# generated\n' + UV_LOCK), true);
    assert.equal(isUvLock('pyarrow==25.0.1\n'), false);
    assert.equal(isUvLock('version = 1\n'), false);
    const info = inspectLockfile(UV_LOCK);
    assert.equal(info.kind, 'uv-lock');
    assert.equal(info.python?.text, '>=3.11');
    assert.equal(info.rootPackage, 'my-plugin');
  });

  it('reads hashes and the `# python:` convention from a requirements lockfile', () => {
    const plain = inspectLockfile('pyarrow==25.0.1\n');
    assert.deepEqual([plain.kind, plain.hasHashes, plain.python], ['requirements', false, undefined]);
    const hashed = inspectLockfile('# python: >=3.10,<3.13\npyarrow==25.0.1 \\\n    --hash=sha256:abcd\n');
    assert.equal(hashed.hasHashes, true);
    assert.equal(hashed.python?.text, '>=3.10,<3.13');
    assert.equal(inspectLockfile('# requires-python: 3.12\nx==1\n').python?.text, '3.12');
    assert.throws(() => inspectLockfile('# python: banana\n'), /banana/);
  });

  it('writes a pyproject that names the lock root package', () => {
    const py = syntheticPyproject(inspectLockfile(UV_LOCK));
    assert.match(py, /^name = "my-plugin"$/m);
    assert.match(py, /^requires-python = ">=3.11"$/m);
    assert.match(py, /^dependencies = \[\]$/m);
  });
});
