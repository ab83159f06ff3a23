import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import type { SentinelClient } from '../../../services/gen/casparian/v1/sentinel';
import { ConcludeChannel } from '../../../services/worker/rpc/conclude-channel';

/** A Conclude call whose writes are accepted until `breakOnVerdict`: then it errors while the verdict waits for drain. */
class FakeCall extends EventEmitter {
  write(msg: { msg?: { $case: string } }): boolean {
    if (msg.msg?.$case === 'header') setImmediate(() => this.emit('data', { msg: { $case: 'headerAck', headerAck: { state: 3 } } }));
    if (msg.msg?.$case === 'verdict') {
      setImmediate(() => this.emit('error', Object.assign(new Error('8 RESOURCE_EXHAUSTED: the output volume is full'), { code: 8 })));
      return false; // backpressure: the send waits for drain or error
    }
    return true;
  }
  end(): void {}
  cancel(): void {}
}

describe('unit: ConcludeChannel', () => {
  it('a call that breaks while the verdict is being sent rejects finish() once, with no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const call = new FakeCall();
      const client = { conclude: () => call } as unknown as SentinelClient;
      const ch = await ConcludeChannel.open(client, { jobId: 'j', attempt: 1, leaseToken: 't' });
      await assert.rejects(
        ch.finish({ status: 'succeeded', metrics: { rows: 0, durationMs: 0, envMs: 0, envProvisioned: false, arrowBytes: 0 }, outputs: [] }),
        /RESOURCE_EXHAUSTED/,
      );
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
