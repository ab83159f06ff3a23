/**
 * DispatchClient's guarded states against fake Sentinel streams: reconnects,
 * close while connecting or while a retry is pending, late messages; and its
 * failover over several addresses: which address each stream dials, the
 * backoff before it, and the backoff starting over after a Welcome.
 */
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { Logger, silentLogger } from '../../../services/common/logger';
import type { SentinelClient } from '../../../services/gen/casparian/v1/sentinel';
import type { AttemptRef, AttemptSpec } from '../../../services/worker/attempt/types';
import { DispatchClient, reconnectDelayMs, type DispatchHandlers, type DispatchTargets, type Schedule } from '../../../services/worker/rpc/dispatch-client';

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
  constructor(readonly address = '') {
    super();
  }
  welcome(): void {
    this.emit('data', { msg: { $case: 'welcome', welcome: { heartbeatIntervalMs: 60_000, leaseMs: 120_000, version: 'test' } } });
  }
}

/** Fake clients for `addresses`: every Dispatch call made, on whichever address, lands in `calls`. */
function fakeTargets(addresses: string[], calls: FakeCall[]): DispatchTargets {
  const clients = new Map(addresses.map((a) => [a, { dispatch: () => calls[calls.push(new FakeCall(a)) - 1] } as unknown as SentinelClient]));
  return { addresses, client: (a) => clients.get(a)! };
}

/** A Schedule the test fires by hand: nothing is dialled until it says so. */
class ManualSchedule {
  readonly pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  readonly schedule: Schedule = (fn, ms) => {
    const p = { fn, ms, cancelled: false };
    this.pending.push(p);
    return () => void (p.cancelled = true);
  };
  /** Timers neither fired nor cancelled. */
  live(): { fn: () => void; ms: number; cancelled: boolean }[] {
    return this.pending.filter((p) => !p.cancelled);
  }
  /** Fire the one live timer; returns its delay. */
  fire(): number {
    const live = this.live();
    assert.equal(live.length, 1, `one timer is pending: ${live.map((p) => p.ms)}`);
    this.pending.length = 0;
    live[0].fn();
    return live[0].ms;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unit: DispatchClient states', () => {
  let calls: FakeCall[];
  let client: DispatchTargets;
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
    client = fakeTargets(['s1:1'], calls);
  });

  it('connects with Hello, reconnects after the stream fails, and closes for good', async () => {
    const d = new DispatchClient(client, handlers, silentLogger, { reconnectMaxMs: 10 });
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
    const d = new DispatchClient(client, handlers, silentLogger, { reconnectMaxMs: 10 });
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
    const d = new DispatchClient(client, handlers, silentLogger, { reconnectMaxMs: 20 });
    d.connect();
    calls[0].emit('end');
    assert.equal(d.state, 'disconnected');
    d.close();
    await sleep(60);
    assert.equal(d.state, 'closed');
    assert.equal(calls.length, 1);
  });

  it('backs off 400 ms, doubling per failure, up to the maximum', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map((n) => reconnectDelayMs(n, 5_000)), [400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
    assert.equal(reconnectDelayMs(1, 100), 100);
  });

  it('dials the next address after each failure, waiting out the backoff, and starts the backoff over after a Welcome', () => {
    const timers = new ManualSchedule();
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ level: 'info', format: 'json', write: (l) => void lines.push(JSON.parse(l)) });
    const d = new DispatchClient(fakeTargets(['a:1', 'b:2', 'c:3'], calls), handlers, logger, { reconnectMaxMs: 5_000, schedule: timers.schedule });
    d.connect();
    assert.equal(calls[0].address, 'a:1');
    calls[0].emit('error', Object.assign(new Error('connect ECONNREFUSED'), { code: 14 }));
    assert.equal(d.address, 'b:2', 'the next address is the one to dial');
    assert.equal(calls.length, 1, 'nothing is dialled before the backoff');
    assert.equal(timers.fire(), 400);
    assert.equal(calls[1].address, 'b:2');
    calls[1].emit('end');
    assert.equal(timers.fire(), 800, 'the backoff grows across addresses');
    assert.equal(calls[2].address, 'c:3');
    calls[2].welcome();
    assert.equal(d.state, 'connected');
    assert.equal(d.address, 'c:3');
    calls[2].emit('error', new Error('replica gone'));
    assert.equal(timers.fire(), 400, 'a Welcome started the backoff over');
    assert.equal(calls[3].address, 'a:1', 'round the ring to the first address');
    calls[3].emit('error', new Error('still down'));
    assert.equal(timers.fire(), 800);
    assert.equal(calls[4].address, 'b:2');
    d.close();

    const connected = lines.filter((l) => l.msg === 'connected to sentinel').map((l) => l.sentinel);
    assert.deepEqual(connected, ['c:3'], 'the log names the replica connected to');
    const down = lines.filter((l) => l.msg === 'dispatch stream down; reconnecting').map((l) => [l.sentinel, l.next, l.inMs]);
    assert.deepEqual(down, [
      ['a:1', 'b:2', 400],
      ['b:2', 'c:3', 800],
      ['c:3', 'a:1', 400],
      ['a:1', 'b:2', 800],
    ]);
  });

  it('with one address, dials it again after the backoff, as before', () => {
    const timers = new ManualSchedule();
    const d = new DispatchClient(fakeTargets(['only:1'], calls), handlers, silentLogger, { reconnectMaxMs: 5_000, schedule: timers.schedule });
    d.connect();
    calls[0].emit('error', new Error('down'));
    assert.equal(d.address, 'only:1');
    assert.equal(timers.fire(), 400);
    assert.deepEqual(calls.map((c) => c.address), ['only:1', 'only:1']);
    d.close();
    assert.ok(calls[1].cancelled);
  });

  it('a late error of a stream already replaced moves nothing', () => {
    const timers = new ManualSchedule();
    const d = new DispatchClient(fakeTargets(['a:1', 'b:2'], calls), handlers, silentLogger, { reconnectMaxMs: 5_000, schedule: timers.schedule });
    d.connect();
    calls[0].emit('error', new Error('down'));
    timers.fire();
    calls[1].welcome();
    calls[0].emit('end');
    calls[0].emit('error', new Error('late'));
    assert.equal(d.state, 'connected');
    assert.equal(d.address, 'b:2');
    assert.equal(timers.live().length, 0, 'no reconnect is scheduled');
    d.close();
  });

  it('gives up a stream that gets no Welcome in time (an address that drops packets) and dials the next address', () => {
    const timers = new ManualSchedule();
    const d = new DispatchClient(fakeTargets(['silent:1', 'b:2'], calls), handlers, silentLogger, { reconnectMaxMs: 5_000, welcomeTimeoutMs: 7_000, schedule: timers.schedule });
    d.connect();
    assert.equal(timers.fire(), 7_000, 'the Welcome wait');
    assert.ok(calls[0].cancelled, 'the silent stream is cancelled');
    assert.equal(d.state, 'disconnected');
    assert.equal(timers.fire(), 400, 'then the usual backoff');
    assert.equal(calls[1].address, 'b:2');
    calls[1].welcome();
    assert.equal(d.state, 'connected');
    assert.equal(timers.live().length, 0, 'a Welcome ends the wait');
    calls[0].emit('error', new Error('14 CANCELLED'));
    assert.equal(d.state, 'connected', "the cancelled stream's own error changes nothing");
    d.close();
  });
});
