/**
 * A worker (in this process, real grpc-js) whose first Sentinel address
 * accepts connections and never answers, like a host that has stopped
 * mid-way: nothing refuses the connection, so only the Welcome wait moves
 * the worker on, to the live Sentinel.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { Cluster } from '../helpers/cluster';

describe('integration: a worker passes over a Sentinel address that never answers', function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;
  let silent: net.Server | undefined;
  const sockets = new Set<net.Socket>();

  afterEach(async () => {
    await cluster?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  });

  it('gives up the silent address after the Welcome wait and connects to the next', async () => {
    silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const silentAddress = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    cluster = await Cluster.start({ workers: [] });
    const started = Date.now();
    // addWorker resolves once the live Sentinel lists the worker (it waits 10 s at most).
    await cluster.addWorker({ workerId: 'w-silent', sentinels: [silentAddress, cluster.address], welcomeTimeoutMs: 1_000 });
    const tookMs = Date.now() - started;
    assert.ok(sockets.size > 0, 'the worker did dial the silent address first');
    assert.ok(tookMs >= 1_000, `connected after ${tookMs} ms: not before the Welcome wait`);
  });
});
