/**
 * SentinelLink over several Sentinel addresses, with fake clients: each
 * attempt's Conclude goes to the address of the Dispatch stream when the
 * attempt opens it, a Conclude that fails is not retried elsewhere (the lease
 * decides), and close() closes every channel the link made.
 */
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { status } from '@grpc/grpc-js';
import { silentLogger } from '../../../services/common/logger';
import type { SentinelClient } from '../../../services/gen/casparian/v1/sentinel';
import type { DispatchHandlers } from '../../../services/worker/rpc/dispatch-client';
import { SentinelLink } from '../../../services/worker/rpc/sentinel-link';

class FakeCall extends EventEmitter {
  readonly written: { msg?: { $case: string } }[] = [];
  cancelled = false;
  write(m: { msg?: { $case: string } }, cb?: (e?: Error | null) => void): boolean {
    this.written.push(m);
    cb?.();
    return true;
  }
  end(): void {}
  cancel(): void {
    this.cancelled = true;
  }
}

class FakeClient {
  readonly dispatches: FakeCall[] = [];
  readonly concludes: FakeCall[] = [];
  closed = false;
  constructor(readonly address: string) {}
  dispatch(): FakeCall {
    return this.dispatches[this.dispatches.push(new FakeCall()) - 1];
  }
  conclude(): FakeCall {
    return this.concludes[this.concludes.push(new FakeCall()) - 1];
  }
  close(): void {
    this.closed = true;
  }
  /** The latest Dispatch stream's Welcome. */
  welcome(): void {
    this.dispatches.at(-1)!.emit('data', { msg: { $case: 'welcome', welcome: { heartbeatIntervalMs: 60_000, leaseMs: 120_000, version: 'test' } } });
  }
}

const handlers: DispatchHandlers = {
  hello: () => ({ workerId: 'w1', slots: 1, version: 'v', envs: [], mayProvision: true, envMode: 'auto', hostname: 'h' }),
  active: () => [],
  onDispatch: () => {},
  onCancel: () => {},
};

const ref = { jobId: 'j1', attempt: 1, leaseToken: 't1' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unit: SentinelLink over several addresses', () => {
  let clients: Map<string, FakeClient>;
  let link: SentinelLink;

  beforeEach(() => {
    clients = new Map();
    link = new SentinelLink({
      addresses: ['a:1', 'b:2'],
      handlers,
      logger: silentLogger,
      reconnectMaxMs: 5,
      connect: (address) => {
        const c = new FakeClient(address);
        clients.set(address, c);
        return c as unknown as SentinelClient;
      },
    });
  });
  afterEach(() => {
    link.dispatch.close();
    link.close();
  });

  /** Open an attempt's Conclude, acknowledge its header on whichever client got it, and say which that was. */
  async function open(): Promise<string> {
    const before = new Map([...clients].map(([a, c]) => [a, c.concludes.length]));
    const opening = link.openAttempt(ref);
    const [address, client] = [...clients].find(([a, c]) => c.concludes.length > (before.get(a) ?? 0))!;
    client.concludes.at(-1)!.emit('data', { msg: { $case: 'headerAck', headerAck: {} } });
    await opening;
    return address;
  }

  it("sends each attempt's Conclude to the replica of the Dispatch stream, and follows the stream when it moves", async () => {
    link.dispatch.connect();
    clients.get('a:1')!.welcome();
    assert.equal(await open(), 'a:1');
    assert.deepEqual(clients.get('a:1')!.concludes[0].written[0].msg?.$case, 'header');

    clients.get('a:1')!.dispatches[0].emit('error', Object.assign(new Error('replica gone'), { code: status.UNAVAILABLE }));
    assert.equal(link.dispatch.address, 'b:2');
    await sleep(30);
    clients.get('b:2')!.welcome();
    assert.equal(link.dispatch.state, 'connected');
    assert.equal(await open(), 'b:2', 'the next attempt concludes on the replica the stream moved to');
    assert.equal(clients.get('a:1')!.concludes.length, 1);
  });

  it('does not retry a Conclude that fails: the attempt is refused and the lease decides', async () => {
    link.dispatch.connect();
    clients.get('a:1')!.welcome();
    const opening = link.openAttempt(ref);
    await sleep(0);
    clients.get('a:1')!.concludes[0].emit('error', Object.assign(new Error('14 UNAVAILABLE: Connection dropped'), { code: status.UNAVAILABLE }));
    await assert.rejects(opening, /UNAVAILABLE/);
    assert.equal(clients.get('a:1')!.concludes.length, 1);
    assert.equal(clients.get('b:2'), undefined, 'no Conclude went anywhere else');
  });

  it('makes one channel per address on first use and closes every one', async () => {
    link.dispatch.connect();
    clients.get('a:1')!.dispatches[0].emit('end');
    await sleep(30);
    assert.deepEqual([...clients.keys()], ['a:1', 'b:2']);
    assert.equal(clients.get('b:2')!.dispatches.length, 1);
    link.dispatch.close();
    link.close();
    assert.ok([...clients.values()].every((c) => c.closed));
  });
});
