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
    assert.equal(await pyarrowPython(), a);
    const journal = fs.readFileSync(path.join(testHome(), 'venvs', '.logs', 'installs.jsonl'), 'utf8');
    const starts = journal.split('\n').filter((l) => l.includes(hash) && l.includes('"start"'));
    assert.equal(starts.length, 1, 'installed once for the whole run, however often asked');
  });
});
