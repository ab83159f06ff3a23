/** Shared pieces of the env manager tests: configuration, lockfiles, failure checks. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobFailure } from '../../services/common/job-error';
import { silentLogger } from '../../services/common/logger';
import type { EnvManagerConfig } from '../../services/worker/envs/types';

/** A uv.lock of a virtual root package "my-plugin" that needs pyarrow 25.0.1 (requires-python >=3.11). */
export const UV_LOCK = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'lockfiles', 'uv.lock'), 'utf8');

/** An EnvManager configuration for tests: auto mode, long install timeouts, silent. */
export function envManagerConfig(home: string, cfg: Partial<EnvManagerConfig> = {}): EnvManagerConfig {
  return {
    home,
    mode: 'auto',
    basePython: process.env.CASPARIAN_PYTHON ?? 'python3',
    installTimeoutMs: 600_000,
    lockWaitTimeoutMs: 600_000,
    failureCacheMs: 60_000,
    logger: silentLogger,
    ...cfg,
  };
}

/** Await `p`, which must reject with a JobFailure; returns it. */
export async function expectJobFailure(p: Promise<unknown>): Promise<JobFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof JobFailure, `expected a JobFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}
