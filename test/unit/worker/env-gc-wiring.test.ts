/** The worker evicts envs over its caps after each new env (fake env manager; the eviction policy itself is tested in envs). */
import { strict as assert } from 'node:assert';
import { compileWorkerConfig } from '../../../services/common/config';
import { silentLogger } from '../../../services/common/logger';
import type { EnvManager } from '../../../services/worker/envs/env-manager';
import type { EnvChange } from '../../../services/worker/envs/types';
import { Worker } from '../../../services/worker/worker';

describe('unit: worker env GC wiring', () => {
  it('runs gc with the configured caps when an env is added, not on other changes', async () => {
    let listener: ((c: EnvChange) => void) | undefined;
    const calls: { maxBytes: number; maxCount: number }[] = [];
    const fake = {
      onChange: (l: (c: EnvChange) => void) => {
        listener = l;
        return () => {};
      },
      inventory: () => [],
      gc: async (o: { maxBytes: number; maxCount: number }) => {
        calls.push(o);
        return { evicted: [], kept: [] };
      },
    } as unknown as EnvManager;
    const cfg = compileWorkerConfig({ sentinel: '127.0.0.1:1', 'worker-port': '-1', 'env-max-bytes': '1000', 'env-max-count': '2' }, {});
    const w = new Worker(cfg, silentLogger, {}, { envs: fake });
    const env = { envHash: 'a'.repeat(64), path: '/x', status: 'ready' as const, backend: 'pip' as const, inUse: 0 };
    listener!({ kind: 'broken', env });
    listener!({ kind: 'evicted', env });
    assert.equal(calls.length, 0);
    listener!({ kind: 'added', env });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [{ maxBytes: 1000, maxCount: 2 }]);
    await w.shutdown(10);
  });
});
