/** Runs the bridge's Python unittest suite (bridge_py/tests) so `npm test` covers it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT, pyarrowPython } from '../helpers/python-env';

describe('bridge Python unittests', function () {
  this.timeout(300_000);

  it('python -m unittest discover -s bridge_py/tests passes', async () => {
    const python = await pyarrowPython();
    const result = spawnSync(python, ['-m', 'unittest', 'discover', '-s', path.join('bridge_py', 'tests'), '-v'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1', LANG: 'C.UTF-8' },
      timeout: 240_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.status, 0, output);
    assert.match(result.stderr, /Ran [1-9]\d* tests?/, output);
  });
});
