/**
 * A slow watcher on a real Sentinel process: a WatchJob client that stops
 * reading while its job logs 3,000 lines. The Sentinel keeps at most
 * CASPARIAN_WATCH_QUEUE_MAX events for it (50 here) and then ends the stream
 * with RESOURCE_EXHAUSTED, instead of buffering without bound; a watcher of
 * a job that logs less than that sees it through to its end.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { channelOptions } from '../../services/common/grpc-server';
import { SentinelClient as RawClient } from '../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../services/gen/casparian/v1/types';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

const CHATTY = `
import casparian
import pyarrow as pa

def parse(path):
    with open(path) as f:
        n = int(f.read())
    for i in range(n):
        casparian.log(f"line {i}")
    return pa.table({"n": [n]})
`;

describe('integration: a slow WatchJob client (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('ends with RESOURCE_EXHAUSTED once it is more than CASPARIAN_WATCH_QUEUE_MAX events behind; a quieter job\'s watcher is not', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'], sentinelEnv: { CASPARIAN_WATCH_QUEUE_MAX: '50' } }));
    await c.publish('chatty', CHATTY);
    const raw = new RawClient(c.address, grpc.credentials.createInsecure(), channelOptions());
    try {
      const job = await c.submit('chatty', c.input('many.txt', '3000'), { maxAttempts: 1 });
      const slow = raw.watchJob({ jobId: job.id }); // no 'data' listener yet: it reads nothing
      let slowMessages = 0;
      const slowEnd = new Promise<grpc.ServiceError | undefined>((resolve) => {
        slow.on('error', (e: grpc.ServiceError) => resolve(e));
        slow.on('end', () => resolve(undefined));
      });
      const done = await c.waitJob(job.id);
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(done.error));
      slow.on('data', () => slowMessages++); // now read what is there
      const err = await slowEnd;
      assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED, `the slow watcher ended with ${err ? grpc.status[err.code] : 'OK'} after ${slowMessages} messages`);
      assert.match(err!.details, /fell more than 50 events behind/);

      // A watcher of a job that logs less than the cap sees it to its end.
      const quiet = await c.submit('chatty', c.input('few.txt', '20'), { maxAttempts: 1 });
      const reader = raw.watchJob({ jobId: quiet.id });
      let messages = 0;
      const end = await new Promise<grpc.status>((resolve) => {
        reader.on('data', () => messages++);
        reader.on('error', (e: grpc.ServiceError) => resolve(e.code));
        reader.on('end', () => resolve(grpc.status.OK));
      });
      assert.equal(end, grpc.status.OK);
      assert.ok(messages >= 20, `${messages} messages`);
      await waitFor('the Sentinel to still answer', async () => (await c.client.getJob({ jobId: job.id, includeLogs: false })).job, 5_000);
    } finally {
      raw.close();
    }
  });
});
