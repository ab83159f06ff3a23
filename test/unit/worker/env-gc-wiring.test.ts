/**
 * The worker evicts envs over its caps after each new env, and stops an env's
 * fork server before its eviction and when it is evicted or broken (fake env
 * manager; the eviction policy itself is tested in envs).
 */
import { strict as assert } from 'node:assert';
import { compileWorkerConfig } from '../../../services/common/config';
import { silentLogger } from '../../../services/common/logger';
import type { EnvManager } from '../../../services/worker/envs/env-manager';
import type { EnvChange } from '../../../services/worker/envs/types';
import { Worker } from '../../../services/worker/worker';

describe('unit: worker env GC wiring', () => {
  it('runs gc with the configured caps when an env is added, not on other changes', async () => {
    let listener: ((c: EnvChange) => void) | undefined;
    const calls: { maxBytes: number; maxCount: number; beforeEvict?: (h: string) => Promise<void> }[] = [];
    const fake = {
      onChange: (l: (c: EnvChange) => void) => {
        listener = l;
        return () => {};
      },
      inventory: () => [],
      gc: async (o: (typeof calls)[number]) => {
        calls.push(o);
        return { evicted: [], kept: [] };
      },
    } as unknown as EnvManager;
    const cfg = compileWorkerConfig({ sentinel: '127.0.0.1:1', 'worker-port': '-1', 'env-max-bytes': '1000', 'env-max-count': '2' }, {});
    const w = new Worker(cfg, silentLogger, {}, { envs: fake });
    const stopped: string[] = [];
    w.forks.stopEnv = async (h: string) => void stopped.push(h);
    const env = { envHash: 'a'.repeat(64), path: '/x', status: 'ready' as const, backend: 'pip' as const, inUse: 0 };
    listener!({ kind: 'broken', env });
    listener!({ kind: 'evicted', env });
    assert.equal(calls.length, 0);
    assert.deepEqual(stopped, [env.envHash, env.envHash], 'a broken or evicted env keeps no fork server');
    listener!({ kind: 'added', env });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls.map(({ maxBytes, maxCount }) => ({ maxBytes, maxCount })), [{ maxBytes: 1000, maxCount: 2 }]);
    await calls[0].beforeEvict!('b'.repeat(64));
    assert.deepEqual(stopped.slice(2), ['b'.repeat(64)], "an env's fork server is stopped before the env is evicted");
    await w.shutdown(10);
  });
});
