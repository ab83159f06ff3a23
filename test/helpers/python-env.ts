/**
 * Shared Python environments for tests. The run-scoped CASPARIAN_HOME comes from
 * mocha-hooks; environments are provisioned by the worker's own EnvManager (auto
 * mode) under that home, so they are reused by every test file of the run and
 * by workers that tests start on the same home.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { envHashOf } from '../../services/worker/envs/env-hash';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/**
 * The pyarrow lockfile most tests publish plugins with: a worker provisions
 * its env once per run (whichever test comes first) and every later test
 * reuses it. Tests that must watch a provision use a lockfile of their own.
 */
export const SHARED_LOCKFILE = '# casparian e2e env\npyarrow==25.0.1\n';

export const PYARROW_LOCKFILE = path.join(REPO_ROOT, 'test', 'fixtures', 'lockfiles', 'pyarrow.txt');

export function testHome(): string {
  const home = process.env.CASPARIAN_TEST_HOME;
  if (!home) throw new Error('CASPARIAN_TEST_HOME is not set (mocha-hooks not loaded?)');
  return home;
}

/**
 * The package index tests install from: $CASPARIAN_PIP_INDEX_URL when set, else
 * the local mirror file:///opt/pypi/simple when it exists, else undefined
 * (pip's/uv's own configuration).
 */
export function testIndexUrl(): string | undefined {
  if (process.env.CASPARIAN_PIP_INDEX_URL) return process.env.CASPARIAN_PIP_INDEX_URL;
  return fs.existsSync('/opt/pypi/simple') ? 'file:///opt/pypi/simple' : undefined;
}

let cached: Promise<string> | undefined;

/** Path to a python with pyarrow, provisioned once per test run by the EnvManager. */
export function pyarrowPython(): Promise<string> {
  if (!cached) {
    cached = (async () => {
      const lockfile = fs.readFileSync(PYARROW_LOCKFILE, 'utf8');
      const manager = new EnvManager({
        home: testHome(),
        mode: 'auto',
        basePython: process.env.CASPARIAN_PYTHON ?? 'python3',
        indexUrl: testIndexUrl(),
        installTimeoutMs: 600_000,
        lockWaitTimeoutMs: 600_000,
        failureCacheMs: 0,
        logger: silentLogger,
      }, { env: process.env });
      const lease = await manager.acquire(envHashOf(lockfile), lockfile);
      lease.release();
      return lease.python;
    })();
    cached.catch(() => (cached = undefined));
  }
  return cached;
}
