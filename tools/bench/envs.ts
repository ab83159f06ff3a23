/** The worker's EnvManager as the bench uses it: the warm env before any row, and row 7a's cold provision. */
import { silentLogger } from '../../services/common/logger';
import { envHashOf } from '../../services/worker/envs/env-hash';
import { EnvManager } from '../../services/worker/envs/env-manager';
import type { EnvLease } from '../../services/worker/envs/types';

/** An auto-mode EnvManager on `home`, configured as `casparian worker` configures it (uv when on PATH, else pip). */
export function envManager(home: string, indexUrl: string | undefined): EnvManager {
  return new EnvManager(
    {
      home,
      mode: 'auto',
      basePython: process.env.CASPARIAN_PYTHON ?? 'python3',
      indexUrl,
      installTimeoutMs: 1_200_000,
      lockWaitTimeoutMs: 1_200_000,
      failureCacheMs: 0,
      logger: silentLogger,
    },
    { env: process.env },
  );
}

/** Acquires (provisioning when missing) and releases the env of `lockfile` under `home`. */
export async function acquireEnv(home: string, indexUrl: string | undefined, lockfile: string): Promise<EnvLease> {
  const m = envManager(home, indexUrl);
  await m.init();
  const lease = await m.acquire(envHashOf(lockfile), lockfile);
  lease.release();
  return lease;
}
