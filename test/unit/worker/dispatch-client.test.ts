/** DispatchClient's guarded states against a fake Sentinel stream: reconnects, close while connecting or while a retry is pending, late messages. */
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { silentLogger } from '../../../services/common/logger';
import type { SentinelClient } from '../../../services/gen/casparian/v1/sentinel';
import type { AttemptRef, AttemptSpec } from '../../../services/worker/attempt/types';
import { DispatchClient, type DispatchHandlers } from '../../../services/worker/rpc/dispatch-client';

class FakeCall extends EventEmitter {
  readonly written: { msg?: { $case: string } & Record<string, unknown> }[] = [];
  ended = false;
  cancelled = false;
  write(m: { msg?: { $case: string } }): boolean {
    this.written.push(m as never);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  cancel(): void {
    this.cancelled = true;
  }
  welcome(): void {
    this.emit('data', { msg: { $case: 'welcome', welcome: { heartbeatIntervalMs: 60_000, leaseMs: 120_000, version: 'test' } } });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unit: DispatchClient states', () => {
  let calls: FakeCall[];
  let client: SentinelClient;
  let dispatched: [AttemptRef, AttemptSpec][];
  const handlers: DispatchHandlers = {
    hello: () => ({ workerId: 'w1', slots: 2, version: 'v', envs: [{ envHash: 'a'.repeat(64), path: '/x', status: 'ready', backend: 'uv', inUse: 0 }], mayProvision: true, envMode: 'auto', hostname: 'h' }),
    active: () => [{ jobId: 'j0', attempt: 1, leaseToken: 't0' }],
    onDispatch: (ref, spec) => void dispatched.push([ref, spec]),
    onCancel: () => {},
  };

  beforeEach(() => {
    calls = [];
    dispatched = [];
    client = { dispatch: () => calls[calls.push(new FakeCall()) - 1] } as unknown as SentinelClient;
  });

  it('connects with Hello, reconnects after the stream fails, and closes for good', async () => {
    const d = new DispatchClient(client, handlers, silentLogger, 10);
    assert.equal(d.state, 'disconnected');
    d.ready(1, false);
    d.connect();
    assert.equal(d.state, 'connecting');
    const hello = calls[0].written[0].msg as unknown as { hello: { workerId: string; envs: { envHash: string; backend: string }[]; active: AttemptRef[] } };
    assert.equal(hello.hello.workerId, 'w1');
    assert.deepEqual(hello.hello.envs.map((e) => [e.envHash.length, e.backend]), [[64, 'uv']]);
    assert.deepEqual(hello.hello.active, [{ jobId: 'j0', attempt: 1, leaseToken: 't0' }]);
    d.ready(1, false);
    assert.equal(calls[0].written.length, 1, 'nothing but Hello is sent before Welcome');
    calls[0].welcome();
    assert.equal(d.state, 'connected');
    d.ready(2, false);
    assert.equal(calls[0].written[1].msg?.$case, 'ready');

    calls[0].emit('data', {
      msg: { $case: 'dispatch', dispatch: { jobId: 'j1', attempt: 3, leaseToken: 't1', pluginName: 'p', pluginVersion: '1', source: 's', envHash: 'e', lockfile: 'l', inputPath: '/in', envAllow: [] } },
    });
    assert.deepEqual(dispatched[0][0], { jobId: 'j1', attempt: 3, leaseToken: 't1' });
    assert.equal(dispatched[0][1].inputPath, '/in');
    assert.ok(dispatched[0][1].timeouts.idleMs > 0, 'default timeouts fill the gaps');

    calls[0].emit('error', new Error('boom'));
    assert.equal(d.state, 'disconnected');
    await sleep(50);
    assert.equal(calls.length, 2, 'a new stream after the backoff');
    assert.equal(d.state, 'connecting');
    calls[1].welcome();
    assert.equal(d.state, 'connected');
    d.close();
    assert.equal(d.state, 'closed');
    assert.ok(calls[1].ended && calls[1].cancelled);
    d.close();
    calls[1].welcome();
    calls[1].emit('end');
    d.connect();
    await sleep(30);
    assert.equal(d.state, 'closed', 'late messages and connect() leave a closed client closed');
    assert.equal(calls.length, 2);
  });

  it('closes while connecting: a late Welcome or end on that stream changes nothing', async () => {
    const d = new DispatchClient(client, handlers, silentLogger, 10);
    d.connect();
    d.close();
    assert.equal(d.state, 'closed');
    calls[0].welcome();
    calls[0].emit('end');
    await sleep(30);
    assert.equal(d.state, 'closed');
    assert.equal(calls.length, 1, 'no reconnect');
  });

  it('closes while a reconnect is pending: the retry never fires', async () => {
    const d = new DispatchClient(client, handlers, silentLogger, 20);
    d.connect();
    calls[0].emit('end');
    assert.equal(d.state, 'disconnected');
    d.close();
    await sleep(60);
    assert.equal(d.state, 'closed');
    assert.equal(calls.length, 1);
  });
});
