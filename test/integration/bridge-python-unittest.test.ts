/**
 * Runs the bridge's Python unittest suite (bridge_py/tests) so `npm test`
 * covers it. It runs in the env with pyarrow, pandas and polars
 * (test/fixtures/lockfiles/dataframes.txt), so the DataFrame tests run too,
 * and a skipped test fails the run unless its reason is platform-specific: a
 * skip would hide what the suite claims to cover. (That the shim itself needs
 * nothing but pyarrow is covered by the bridge-*.test.ts files, which run it
 * in the pyarrow-only env.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT, dataframesPython } from '../helpers/python-env';

/** Skip reasons that mean "this platform lacks the feature", which Linux never does. */
const PLATFORM_SKIPS = process.platform === 'linux' ? [] : ['no SIGXCPU on this platform'];

describe('bridge Python unittests', function () {
  this.timeout(300_000);

  it('python -m unittest discover -s bridge_py/tests passes with nothing skipped, DataFrame returns included', async () => {
    const python = await dataframesPython();
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
    const skipped = [...result.stderr.matchAll(/^(.*?) \.\.\. skipped '(.*)'$/gm)].filter(([, , reason]) => !PLATFORM_SKIPS.includes(reason));
    assert.deepEqual(skipped.map(([, test, reason]) => `${test}: ${reason}`), [], 'no test may be skipped');
    for (const test of ['test_pandas_dataframe_without_index', 'test_polars_dataframe']) {
      assert.match(result.stderr, new RegExp(`^${test} \\(.*\\) \\.\\.\\. ok$`, 'm'), `${test} ran and passed`);
    }
  });
});
