import { strict as assert } from 'node:assert';
import { chooseWorker, describeWait } from '../../../services/sentinel/scheduler/choose-worker';
import type { WorkerSession } from '../../../services/sentinel/scheduler/worker-session';

function worker(id: string, o: Partial<WorkerSession> & { has?: string[]; busy?: number } = {}): WorkerSession {
  const inFlight = new Set<string>(Array.from({ length: o.busy ?? 0 }, (_, i) => `${id}-job${i}`));
  return {
    workerId: id,
    hostname: 'h',
    version: 'v',
    slots: 2,
    envMode: o.mayProvision === false ? 'strict' : 'auto',
    mayProvision: true,
    envs: new Map((o.has ?? []).map((h) => [h, { envHash: h, status: 'ready', backend: 'pip', pythonVersion: '3.11', sizeBytes: 0, problem: '' }])),
    connectedAt: 0,
    lastHeartbeatAt: 0,
    draining: false,
    suspect: false,
    inFlight,
    sendDispatch: () => true,
    sendCancel: () => true,
    close: () => {},
    ...o,
  };
}

describe('unit: chooseWorker (env affinity)', () => {
  it('prefers a worker that has the env', () => {
    const c = chooseWorker([worker('a'), worker('b', { has: ['E'] })], 'E');
    assert.equal('worker' in c && c.worker.workerId, 'b');
  });
  it('falls back to a provisioning worker, never a strict one without the env', () => {
    const c = chooseWorker([worker('strict', { mayProvision: false }), worker('auto')], 'E');
    assert.equal('worker' in c && c.worker.workerId, 'auto');
    const none = chooseWorker([worker('strict', { mayProvision: false })], 'E');
    assert.deepEqual(none, { waiting: 'no_env' });
    assert.equal(describeWait('no_env', 'E'), 'no worker has env E and none may provision it');
  });
  it('explains busy, draining and empty pools with a reason code', () => {
    assert.deepEqual(chooseWorker([worker('a', { busy: 2, has: ['E'] })], 'E'), { waiting: 'busy' });
    assert.deepEqual(chooseWorker([worker('a', { draining: true, has: ['E'] })], 'E'), { waiting: 'draining' });
    assert.deepEqual(chooseWorker([], 'E'), { waiting: 'no_worker' });
    assert.match(describeWait('busy', 'E'), /busy/);
    assert.match(describeWait('draining', 'E'), /draining/);
    assert.match(describeWait('no_worker', 'E'), /no worker connected/);
  });
  it('never picks a suspect worker (a lease expired without a heartbeat)', () => {
    const c = chooseWorker([worker('frozen', { suspect: true, has: ['E'] }), worker('idle')], 'E');
    assert.equal('worker' in c && c.worker.workerId, 'idle', 'an idle worker that must provision beats a suspect one with the env');
    assert.deepEqual(chooseWorker([worker('frozen', { suspect: true, has: ['E'] })], 'E'), { waiting: 'unresponsive' });
    assert.match(describeWait('unresponsive', 'E'), /unresponsive/);
  });
  it("prefers another worker than the previous attempt's, within the same env group", () => {
    const both = [worker('a', { has: ['E'] }), worker('b', { has: ['E'] })];
    const notA = chooseWorker(both, 'E', 'a');
    assert.equal('worker' in notA && notA.worker.workerId, 'b');
    const notB = chooseWorker(both, 'E', 'b');
    assert.equal('worker' in notB && notB.worker.workerId, 'a');
    const onlyLast = chooseWorker([worker('a', { has: ['E'] }), worker('b', { busy: 2, has: ['E'] })], 'E', 'a');
    assert.equal('worker' in onlyLast && onlyLast.worker.workerId, 'a', 'the previous worker is still used when it is the only free one');
    const affinity = chooseWorker([worker('a', { has: ['E'] }), worker('b')], 'E', 'a');
    assert.equal('worker' in affinity && affinity.worker.workerId, 'a', 'env affinity comes before avoiding the previous worker');
  });
});
