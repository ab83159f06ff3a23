/** The shared test helper gets its pyarrow env from the worker's EnvManager (auto mode, run-scoped home). */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { PYARROW_LOCKFILE, pyarrowPython, testHome } from '../helpers/python-env';

describe('envs: test helper pyarrowPython()', function () {
  this.timeout(300_000);

  it('provisions (or reuses) the pyarrow env under the run-scoped home, once', async () => {
    const hash = envHashOf(fs.readFileSync(PYARROW_LOCKFILE));
    const [a, b] = await Promise.all([pyarrowPython(), pyarrowPython()]);
    assert.equal(a, path.join(testHome(), 'venvs', hash, 'bin', 'python'));
    assert.equal(b, a);
    const marker = JSON.parse(fs.readFileSync(path.join(testHome(), 'venvs', hash, '.casparian-env.json'), 'utf8'));
    assert.equal(marker.envHash, hash);
    assert.equal(execFileSync(a, ['-I', '-c', 'import pyarrow; print(pyarrow.__version__)'], { encoding: 'utf8' }).trim(), '25.0.1');
    const t0 = Date.now();
    assert.equal(await pyarrowPython(), a);
    assert.ok(Date.now() - t0 < 100);
  });
});
