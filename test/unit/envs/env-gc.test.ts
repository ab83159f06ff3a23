import * as assert from 'node:assert/strict';
import { planGc } from '../../../services/worker/envs/env-gc';
import type { EnvInfo } from '../../../services/worker/envs/types';

const MB = 1024 * 1024;
function env(id: string, sizeMb: number, lastUsedMin: number, extra: Partial<EnvInfo> = {}): EnvInfo {
  return {
    envHash: id.padEnd(64, '0'),
    path: `/h/venvs/${id}`,
    status: 'ready',
    backend: 'pip',
    sizeBytes: sizeMb * MB,
    lastUsedAt: new Date(Date.UTC(2025, 0, 1, 0, lastUsedMin)).toISOString(),
    inUse: 0,
    ...extra,
  };
}
const ids = (es: EnvInfo[]) => es.map((e) => e.envHash.slice(0, 1));

describe('envs/env-gc planGc', () => {
  it('keeps everything under the caps', () => {
    const plan = planGc([env('a', 100, 1), env('b', 100, 2)], { maxBytes: 1000 * MB, maxCount: 5 });
    assert.deepEqual(plan.evict, []);
    assert.equal(plan.keep.length, 2);
  });

  it('evicts least recently used first until the size cap holds', () => {
    const plan = planGc([env('a', 200, 30), env('b', 200, 10), env('c', 200, 20)], { maxBytes: 250 * MB, maxCount: 10 });
    assert.deepEqual(ids(plan.evict), ['b', 'c']);
    assert.deepEqual(ids(plan.keep), ['a']);
  });

  it('evicts down to the count cap', () => {
    const plan = planGc([env('a', 1, 3), env('b', 1, 1), env('c', 1, 2)], { maxBytes: 1e12, maxCount: 1 });
    assert.deepEqual(ids(plan.evict), ['b', 'c']);
  });

  it('never evicts an env in use, even when it is the oldest and the cap is exceeded', () => {
    const plan = planGc([env('a', 500, 1, { inUse: 2 }), env('b', 100, 5)], { maxBytes: 0, maxCount: 0 });
    assert.deepEqual(ids(plan.evict), ['b']);
    assert.deepEqual(ids(plan.keep), ['a']);
  });

  it('removes broken envs first, always; keeps ready linked envs and does not count them', () => {
    const plan = planGc(
      [env('a', 100, 1), env('b', 0, 50, { status: 'broken' }), env('c', 0, 2, { backend: 'linked' }), env('d', 0, 3, { backend: 'linked', status: 'broken' })],
      { maxBytes: 1000 * MB, maxCount: 1 },
    );
    assert.deepEqual(ids(plan.evict).sort(), ['b', 'd']);
    assert.deepEqual(ids(plan.keep).sort(), ['a', 'c']);
  });
});
