/**
 * The CLI's failover rules (tools/cli/failover.ts) against fake addresses and
 * a fake clock: which address a call goes to, which calls are sent again
 * after an address failed, what the error says when none answers, and how a
 * watch stream that breaks is opened again elsewhere.
 */
import { strict as assert } from 'node:assert';
import { status } from '@grpc/grpc-js';
import { AddressRing } from '../../../services/common/address-ring';
import { firstConnected, onFirstReachable, resumable, type CallError, type Endpoints, type Reach, type ServerStream } from '../../../tools/cli/failover';

type Behaviour = 'up' | 'refused' | 'silent';

/** Addresses that are up, refuse connections, or never answer (until the deadline, on a fake clock). */
class FakeEndpoints implements Endpoints {
  readonly ring: AddressRing;
  clock = 0;
  /** Every reach: address and how long it was given. */
  readonly reached: [string, number][] = [];
  constructor(readonly behaviour: Record<string, Behaviour>) {
    this.ring = new AddressRing(Object.keys(behaviour));
  }
  async reach(address: string, deadline: number): Promise<Reach> {
    this.reached.push([address, deadline - this.clock]);
    const b = this.behaviour[address];
    if (b === 'up') return { ok: true };
    if (b === 'refused') return { ok: false, why: 'connection refused' };
    this.clock = Math.max(this.clock, deadline);
    return { ok: false, why: 'no connection in time' };
  }
  now(): number {
    return this.clock;
  }
  async sleep(ms: number): Promise<void> {
    this.clock += ms;
  }
}

const grpcError = (code: number, details: string): CallError => Object.assign(new Error(`${code} ${details}`), { code, details });
const unavailable = (details = 'Connection dropped'): CallError => grpcError(status.UNAVAILABLE, details);

describe('unit: CLI failover between Sentinel addresses', () => {
  it('sends a call, whatever it is, past addresses that cannot connect, and starts the next call where one answered', async () => {
    const e = new FakeEndpoints({ 'a:1': 'refused', 'b:2': 'silent', 'c:3': 'up' });
    const sent: string[] = [];
    const res = await onFirstReachable(e, { timeoutMs: 30_000, repeatable: false }, async (address) => (sent.push(address), 'ok'));
    assert.equal(res, 'ok');
    assert.deepEqual(sent, ['c:3'], 'nothing was sent where no connection was made');
    assert.deepEqual(e.reached, [['a:1', 10_000], ['b:2', 10_000], ['c:3', 10_000]], 'each address gets its share of the timeout');
    assert.equal(e.ring.current, 'c:3');
    e.reached.length = 0;
    await onFirstReachable(e, { timeoutMs: 30_000, repeatable: false }, async (address) => (sent.push(address), 'ok'));
    assert.deepEqual(e.reached.map(([a]) => a), ['c:3'], 'the dead addresses are not tried again while c:3 answers');
  });

  it('sends a repeatable call that failed with UNAVAILABLE to the next address, and fails a call that is not', async () => {
    const e = new FakeEndpoints({ 'a:1': 'up', 'b:2': 'up' });
    const sent: string[] = [];
    const dropsOnA = async (address: string): Promise<string> => {
      sent.push(address);
      if (address === 'a:1') throw unavailable();
      return address;
    };
    assert.equal(await onFirstReachable(e, { timeoutMs: 1_000, repeatable: true }, dropsOnA), 'b:2');
    assert.deepEqual(sent, ['a:1', 'b:2']);

    e.ring.settle('a:1');
    sent.length = 0;
    await assert.rejects(
      onFirstReachable(e, { timeoutMs: 1_000, repeatable: false }, dropsOnA),
      (err: CallError) => err.code === status.UNAVAILABLE && /^Connection dropped \(at a:1; not sent to another address, as a:1 may have carried it out\)$/.test(err.details),
    );
    assert.deepEqual(sent, ['a:1'], 'sent once');
    assert.equal(e.ring.current, 'b:2', 'the next call starts at the next address');
  });

  it("returns any other answer at once: it is the Sentinel's", async () => {
    const e = new FakeEndpoints({ 'a:1': 'up', 'b:2': 'up' });
    const sent: string[] = [];
    await assert.rejects(
      onFirstReachable(e, { timeoutMs: 1_000, repeatable: true }, async (address) => {
        sent.push(address);
        throw grpcError(status.NOT_FOUND, 'job x does not exist');
      }),
      /does not exist/,
    );
    assert.deepEqual(sent, ['a:1']);
  });

  it('names every address and what happened there when none takes the call', async () => {
    const e = new FakeEndpoints({ 'a:1': 'refused', 'b:2': 'up' });
    await assert.rejects(
      onFirstReachable(e, { timeoutMs: 1_000, repeatable: true }, async () => {
        throw unavailable('the Sentinel is shutting down');
      }),
      (err: CallError) =>
        err.code === status.UNAVAILABLE && err.details === 'cannot reach the Sentinel at any of a:1, b:2: a:1: connection refused; b:2: the Sentinel is shutting down',
    );
    const one = new FakeEndpoints({ 'a:1': 'refused' });
    await assert.rejects(onFirstReachable(one, { timeoutMs: 1_000, repeatable: false }, async () => 'never'), (err: CallError) => err.details === 'cannot reach the Sentinel at a:1: connection refused');
  });

  it('waits for a connection round after round until the timeout (streams)', async () => {
    const e = new FakeEndpoints({ 'a:1': 'refused', 'b:2': 'refused' });
    const waiting = firstConnected(e, 2_000, 250);
    await assert.rejects(waiting, (err: CallError) => err.code === status.UNAVAILABLE && /^cannot reach the Sentinel at any of a:1, b:2 \(tried for 2 s\): /.test(err.details));
    assert.equal(e.reached.length, 16, 'both addresses, every 250 ms, for 2 s');

    const later = new FakeEndpoints({ 'a:1': 'refused', 'b:2': 'refused' });
    const reach = later.reach.bind(later);
    later.reach = (address, deadline) => {
      if (later.clock >= 1_000) later.behaviour['b:2'] = 'up';
      return reach(address, deadline);
    };
    assert.equal(await firstConnected(later, 30_000, 250), 'b:2');
    assert.equal(later.ring.current, 'b:2');
  });

  describe('a watch stream', () => {
    /** A stream that yields `messages`, then fails with `end` (or ends). */
    function stream<T>(messages: T[], end?: CallError): ServerStream<T> & { cancelled: boolean } {
      return {
        cancelled: false,
        cancel() {
          this.cancelled = true;
        },
        async *[Symbol.asyncIterator]() {
          yield* messages;
          if (end) throw end;
        },
      };
    }

    it('that breaks with UNAVAILABLE is opened again on the next address, and goes on', async () => {
      const e = new FakeEndpoints({ 'a:1': 'up', 'b:2': 'up' });
      const opened: string[] = [];
      const streams = [stream([1, 2], unavailable()), stream([2, 3])];
      const seen: number[] = [];
      for await (const m of resumable(e, 5_000, (address) => (opened.push(address), streams[opened.length - 1]))) seen.push(m);
      assert.deepEqual(opened, ['a:1', 'b:2']);
      assert.deepEqual(seen, [1, 2, 2, 3], 'the new stream starts over from the current state');
      assert.ok(streams.every((s) => s.cancelled));
    });

    it('fails on any other error, and when it breaks on every address in turn without a message', async () => {
      const e = new FakeEndpoints({ 'a:1': 'up', 'b:2': 'up' });
      const opened: string[] = [];
      const drain = async (open: (a: string) => ServerStream<number>): Promise<void> => {
        for await (const _ of resumable(e, 5_000, open)) void _;
      };
      await assert.rejects(drain(() => stream([], grpcError(status.NOT_FOUND, 'no such job'))), /no such job/);
      await assert.rejects(
        drain((address) => (opened.push(address), stream([], unavailable('database away')))),
        (err: CallError) => err.details === 'database away',
      );
      assert.equal(opened.length, 3, 'each address once, then the first again, then it gives up');
    });

    it('gives up when no address connects within the timeout', async () => {
      const e = new FakeEndpoints({ 'a:1': 'up', 'b:2': 'up' });
      const open = (address: string): ServerStream<number> => {
        e.behaviour['a:1'] = e.behaviour['b:2'] = 'refused';
        return stream(address === 'a:1' ? [1] : [], unavailable());
      };
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const m of resumable(e, 1_000, open)) seen.push(m);
        })(),
        (err: CallError) => /^cannot reach the Sentinel at any of b:2, a:1 \(tried for 1 s\)/.test(err.details),
      );
      assert.deepEqual(seen, [1]);
    });
  });
});
