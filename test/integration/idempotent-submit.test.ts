/**
 * SubmitJob with an idempotency key, against a real Sentinel process (started
 * through the CLI; no workers, so jobs stay queued): concurrent callers get one
 * job, the key survives restarts, and a different request under a used key is
 * ALREADY_EXISTS naming the key and the job.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { SubmitJobRequest } from '../../services/gen/casparian/v1/sentinel';
import { SentinelClient } from '../../tools/cli/client';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';

const SOURCE = 'def parse(path):\n    return None\n';

function request(inputPath: string, idempotencyKey: string, over: Partial<SubmitJobRequest> = {}): SubmitJobRequest {
  return { pluginName: 'p', pluginVersion: '', inputPath, idempotencyKey, maxAttempts: 0, timeouts: undefined, backoff: undefined, priority: 0, ...over };
}

describe('integration: idempotent SubmitJob (real Sentinel process)', function () {
  this.timeout(120_000);
  const clusters = useClusters();

  async function start(): Promise<{ c: ProcCluster; input: string }> {
    const c = clusters.track(await ProcCluster.start());
    await c.publish('p', SOURCE);
    return { c, input: c.input('a.csv', 'x\n') };
  }

  clusters.it('concurrent submits with one key create exactly one job, and every caller gets its id', async () => {
    const { c, input } = await start();
    const clients = Array.from({ length: 6 }, () => new SentinelClient(c.address));
    try {
      const results = await Promise.all(clients.flatMap((client) => [1, 2, 3, 4].map(() => client.submitJob(request(input, 'same-key')))));
      assert.equal(results.length, 24);
      assert.equal(results.filter((r) => r.created).length, 1, 'exactly one call created the job');
      assert.equal(new Set(results.map((r) => r.job!.id)).size, 1, 'every caller got the same job id');
      assert.deepEqual((await c.listJobs('p')).map((j) => j.id), [results[0].job!.id], 'one job exists');
    } finally {
      for (const client of clients) client.close();
    }
  });

  clusters.it('the key still names its job after the Sentinel is killed or stopped and restarted', async () => {
    const { c, input } = await start();
    const first = await c.client.submitJob(request(input, 'restart-key'));
    assert.equal(first.created, true);

    await c.sentinel!.kill9();
    await c.startSentinel();
    const afterKill = await c.client.submitJob(request(input, 'restart-key'));
    assert.deepEqual([afterKill.created, afterKill.job!.id], [false, first.job!.id]);

    c.sentinel!.signal('SIGTERM');
    assert.deepEqual(await c.sentinel!.waitExit(20_000), { code: 0, signal: null });
    await c.startSentinel();
    const afterStop = await c.client.submitJob(request(input, 'restart-key'));
    assert.deepEqual([afterStop.created, afterStop.job!.id], [false, first.job!.id]);
    assert.equal((await c.listJobs('p')).length, 1);
  });

  clusters.it('the same key with a different request is ALREADY_EXISTS naming the key and the job; the same request spelled differently is not', async () => {
    const { c, input } = await start();
    await c.publish('q', SOURCE);
    const first = (await c.client.submitJob(request(input, 'k-1'))).job!;
    const differing: [string, Partial<SubmitJobRequest>][] = [
      ['plugin name', { pluginName: 'q' }],
      ['requested plugin version', { pluginVersion: '1.0.0' }],
      ['input path', { inputPath: c.input('b.csv', 'x\n') }],
      ['max_attempts', { maxAttempts: 2 }],
      ['timeouts', { timeouts: { guestConnectMs: 0, idleMs: 0, startToCloseMs: 60_000, killGraceMs: 0, scheduleToStartMs: 0 } }],
      ['backoff', { backoff: { initialMs: 500, multiplier: 0, maxMs: 0 } }],
    ];
    for (const [what, over] of differing) {
      await assert.rejects(c.client.submitJob(request(input, 'k-1', over)), (e: grpc.ServiceError) => {
        assert.equal(grpc.status[e.code], 'ALREADY_EXISTS', `${what}: ${e.details}`);
        assert.match(e.details, new RegExp(`idempotency key "k-1" already names job ${first.id}, which was submitted with a different request`), what);
        return true;
      });
    }
    const respelled = await c.client.submitJob(request(`${path.dirname(input)}/./sub/../${path.basename(input)}`, 'k-1'));
    assert.deepEqual([respelled.created, respelled.job!.id], [false, first.id], 'the input path is compared after normalisation');
    assert.deepEqual((await c.listJobs('p')).map((j) => j.id), [first.id]);
    assert.deepEqual(await c.listJobs('q'), []);
  });
});
