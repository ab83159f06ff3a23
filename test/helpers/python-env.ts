/**
 * Shared Python environments for tests. The run-scoped CASPARIAN_HOME comes from
 * mocha-hooks; environments are provisioned by the worker's own EnvManager (auto
 * mode) under that home, so they are reused by every test file of the run and
 * by workers that tests start on the same home.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { envManagerConfig } from './env-fixtures';
import { testIndexUrl } from './pip-index';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/**
 * The pyarrow lockfile most tests publish plugins with: a worker provisions
 * its env once per run (whichever test comes first) and every later test
 * reuses it. Tests that must watch a provision use a lockfile of their own.
 */
export const SHARED_LOCKFILE = '# casparian e2e env\npyarrow==25.0.1\n';

export const PYARROW_LOCKFILE = path.join(REPO_ROOT, 'test', 'fixtures', 'lockfiles', 'pyarrow.txt');
/** pyarrow with pandas and polars (versions pinned with their dependencies), for DataFrame returns. */
export const DATAFRAMES_LOCKFILE = path.join(REPO_ROOT, 'test', 'fixtures', 'lockfiles', 'dataframes.txt');

export function testHome(): string {
  const home = process.env.CASPARIAN_TEST_HOME;
  if (!home) throw new Error('CASPARIAN_TEST_HOME is not set (mocha-hooks not loaded?)');
  return home;
}

const provisioned = new Map<string, Promise<string>>();

/**
 * Path to the python of the env built from `lockfile` (its text), provisioned
 * once per test run by the worker's EnvManager in auto mode.
 */
export function provisionPython(lockfile: string): Promise<string> {
  let p = provisioned.get(lockfile);
  if (!p) {
    p = (async () => {
      const manager = new EnvManager(envManagerConfig(testHome(), { indexUrl: testIndexUrl(), failureCacheMs: 0 }), { env: process.env });
      const lease = await manager.acquire(envHashOf(lockfile), lockfile);
      lease.release();
      return lease.python;
    })();
    provisioned.set(lockfile, p);
    p.catch(() => provisioned.delete(lockfile));
  }
  return p;
}

/** Path to a python with pyarrow (test/fixtures/lockfiles/pyarrow.txt). */
export function pyarrowPython(): Promise<string> {
  return provisionPython(fs.readFileSync(PYARROW_LOCKFILE, 'utf8'));
}

/** Path to a python with pyarrow, pandas and polars (test/fixtures/lockfiles/dataframes.txt). */
export function dataframesPython(): Promise<string> {
  return provisionPython(fs.readFileSync(DATAFRAMES_LOCKFILE, 'utf8'));
}
