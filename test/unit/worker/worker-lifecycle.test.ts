/** The Worker's guarded lifecycle, with a fake env manager and no Sentinel (nothing is dialled unless it runs). */
import { strict as assert } from 'node:assert';
import { compileWorkerConfig } from '../../../services/common/config';
import { silentLogger } from '../../../services/common/logger';
import { IllegalStateError } from '../../../services/common/state-machine';
import type { EnvManager } from '../../../services/worker/envs/env-manager';
import type { EnvInfo } from '../../../services/worker/envs/types';
import { Worker } from '../../../services/worker/worker';

function fakeEnvs(init: () => Promise<EnvInfo[]> = async () => []): EnvManager {
  return { onChange: () => () => {}, inventory: () => [], init, gc: async () => ({ evicted: [], kept: [] }) } as unknown as EnvManager;
}

const cfg = (port: string) => compileWorkerConfig({ sentinel: '127.0.0.1:1', 'worker-port': port }, {});

describe('unit: Worker lifecycle', () => {
  it('shuts down without having started, and then refuses to start', async () => {
    const w = new Worker(cfg('-1'), silentLogger, {}, { envs: fakeEnvs() });
    assert.equal(w.state, 'created');
    await w.shutdown(10);
    assert.equal(w.state, 'stopped');
    await w.shutdown(10);
    await assert.rejects(w.start(), (e: unknown) => e instanceof IllegalStateError && e.state === 'stopped');
  });

  it('a shutdown during start wins: start resolves, nothing keeps serving, the worker is stopped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new Worker(cfg('0'), silentLogger, {}, { envs: fakeEnvs(() => gate.then(() => [])) });
    const started = w.start();
    const stopped = w.shutdown(10);
    assert.equal(w.state, 'draining');
    release();
    await started;
    await stopped;
    assert.equal(w.state, 'stopped');
    assert.equal(w.port, 0, 'no server was kept');
  });

  it('start() twice is refused, also while the first is under way', async () => {
    const w = new Worker(cfg('-1'), silentLogger, {}, { envs: fakeEnvs() });
    const first = w.start();
    assert.equal(w.state, 'starting');
    await assert.rejects(w.start(), /Worker cannot start in state starting/);
    await first;
    assert.equal(w.state, 'running');
    await assert.rejects(w.start(), /Worker cannot start in state running/);
    await w.shutdown(10);
    assert.equal(w.state, 'stopped');
  });

  it('a failed start leaves the worker created, to be started again', async () => {
    let fail = true;
    const w = new Worker(cfg('-1'), silentLogger, {}, {
      envs: fakeEnvs(async () => {
        if (fail) throw new Error('venvs dir unreadable');
        return [];
      }),
    });
    await assert.rejects(w.start(), /venvs dir unreadable/);
    assert.equal(w.state, 'created');
    fail = false;
    await w.start();
    assert.equal(w.state, 'running');
    await w.shutdown(10);
  });
});
