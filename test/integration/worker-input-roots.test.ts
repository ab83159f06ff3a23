/**
 * The worker's own input-root check on real processes: a symlink swapped to
 * a file outside the roots after the Sentinel accepted the submit is refused
 * by the worker (INPUT_OUTSIDE_ROOTS), a symlink inside them is followed and
 * the guest gets the resolved path, and Worker.Run is checked the same way.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { channelOptions } from '../../services/common/grpc-server';
import { VerdictStatus } from '../../services/gen/casparian/v1/dispatch';
import { JobState } from '../../services/gen/casparian/v1/types';
import { RunRequest, WorkerClient, type RunResponse } from '../../services/gen/casparian/v1/worker';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { SHARED_LOCKFILE } from '../helpers/python-env';

const ECHO_PATH = `
import pyarrow as pa

def parse(path):
    with open(path) as f:
        first = f.readline().strip()
    return pa.table({"path": [path], "first": [first]})
`;

describe('integration: input roots on the worker (real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('a symlink swapped outside the roots after submit is refused by the worker; one inside is followed; Run is checked too', async () => {
    const c = clusters.track(await ProcCluster.start());
    await c.publish('echo', ECHO_PATH);
    const target = c.input('inside.csv', 'inside\n');
    const outside = path.join(c.root, 'outside.csv');
    fs.writeFileSync(outside, 'secret\n');
    const swapped = path.join(c.inputDir, 'swapped.csv');
    const followed = path.join(c.inputDir, 'followed.csv');
    fs.symlinkSync(target, swapped);
    fs.symlinkSync(target, followed);

    // Both pass the Sentinel's check at submit; no worker runs yet.
    const bad = await c.submit('echo', swapped);
    const good = await c.submit('echo', followed);
    fs.unlinkSync(swapped);
    fs.symlinkSync(outside, swapped);

    const port = await freePort();
    await c.startWorker('w1', { port, env: { CASPARIAN_INPUT_ROOTS: c.inputDir } });
    const refused = await c.waitJob(bad.id);
    assert.equal(refused.state, JobState.JOB_STATE_FAILED);
    assert.equal(refused.error?.code, 'INPUT_OUTSIDE_ROOTS');
    assert.equal(refused.error?.retryable, false);
    assert.ok(refused.error!.message.includes(`resolves to ${outside}, outside this worker's input roots`), refused.error!.message);

    const ok = await c.waitJob(good.id);
    assert.equal(ok.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(ok.error));
    const { tableFromIPC } = await import('apache-arrow');
    const [row] = tableFromIPC((await c.client.fetchOutput(ok.id)).ipc).toArray();
    assert.equal(row.path, fs.realpathSync(target), 'the guest got the resolved path');
    assert.equal(row.first, 'inside');

    const wc = new WorkerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions());
    try {
      let verdict: RunResponse['msg'] | undefined;
      for await (const m of wc.run(RunRequest.fromPartial({ pluginName: 'echo', source: ECHO_PATH, lockfile: SHARED_LOCKFILE, inputPath: outside })) as AsyncIterable<RunResponse>) {
        if (m.msg?.$case === 'verdict') verdict = m.msg;
      }
      assert.equal(verdict?.$case, 'verdict');
      if (verdict?.$case === 'verdict') {
        assert.equal(verdict.verdict.status, VerdictStatus.VERDICT_STATUS_FAILED);
        assert.equal(verdict.verdict.error?.code, 'INPUT_OUTSIDE_ROOTS');
      }
    } finally {
      wc.close();
    }
  });
});
