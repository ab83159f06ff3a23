/**
 * Plugin signing end to end, on real processes: a Sentinel and a worker
 * started through the CLI, keys made by `casparian keygen`, plugins published
 * by `casparian publish --sign-key`, real Python and pyarrow. The worker runs
 * with its default policy (signatures required) and trusts one key.
 *
 * Every plugin here writes a marker file as soon as Python imports it; a job
 * refused for its signature must leave no marker: the plugin never ran. The
 * signed plugin that does run leaves its marker, which shows that the markers
 * work.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { channelOptions } from '../../services/common/grpc-server';
import { VerdictStatus } from '../../services/gen/casparian/v1/dispatch';
import { JobState, type Job } from '../../services/gen/casparian/v1/types';
import { RunRequest, WorkerClient, type RunResponse } from '../../services/gen/casparian/v1/worker';
import { runCli, showCli } from '../helpers/cli-run';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { SHARED_LOCKFILE } from '../helpers/python-env';

function plugin(marker: string, column = 'line'): string {
  return `
import pathlib
import pyarrow as pa

pathlib.Path(${JSON.stringify(marker)}).write_text("imported")

def parse(path):
    return pa.table({${JSON.stringify(column)}: [l.rstrip("\\n") for l in open(path)]})
`;
}

describe('e2e: signed plugins (real processes, real pyarrow)', function () {
  this.timeout(600_000);
  const clusters = useClusters();

  clusters.it('runs a plugin signed by a trusted key; refuses unsigned, tampered, untrusted and replayed ones before they run', async () => {
    const c = clusters.track(await ProcCluster.start());
    const keys = path.join(c.root, 'keys');
    const markers = path.join(c.root, 'markers');
    fs.mkdirSync(keys);
    fs.mkdirSync(markers);
    const marker = (name: string) => path.join(markers, name);
    const cli = async (...args: string[]) => runCli([...args, '--sentinel', c.address], { timeoutMs: 60_000 });

    // Keys: the trusted one, and one the worker has never heard of.
    const gen = await runCli(['keygen', '--out', path.join(keys, 'release')]);
    assert.equal(gen.code, 0, showCli(gen));
    const keyId = gen.stdout.trim();
    assert.match(keyId, /^[0-9a-f]{16}$/);
    assert.equal(fs.statSync(path.join(keys, 'release.key')).mode & 0o777, 0o600, 'the private key is readable by its owner only');
    const again = await runCli(['keygen', '--out', path.join(keys, 'release')]);
    assert.equal(again.code, 2, 'keygen never overwrites a key');
    assert.match(again.stderr, /already exists/);
    const rogue = await runCli(['keygen', '--out', path.join(keys, 'rogue')]);
    assert.equal(rogue.code, 0, showCli(rogue));

    await c.startWorker('w1', { flags: { 'allow-unsigned': false, 'trusted-keys': path.join(keys, 'release.pub') } });
    const lockfile = path.join(c.root, 'requirements.lock');
    fs.writeFileSync(lockfile, SHARED_LOCKFILE);
    const publishSigned = async (name: string, key: string, version = '1.0.0') => {
      const src = path.join(c.root, `${name}.py`);
      fs.writeFileSync(src, plugin(marker(name)));
      const r = await cli('publish', src, '--lockfile', lockfile, '--name', name, '--version', version, '--sign-key', path.join(keys, key));
      assert.equal(r.code, 0, showCli(r));
      return r;
    };
    const refusedJob = async (name: string): Promise<Job> => {
      const job = await c.waitJob((await c.submit(name, c.input(`${name}.csv`, 'a\nb\n'), { maxAttempts: 3 })).id);
      assert.equal(job.state, JobState.JOB_STATE_FAILED, JSON.stringify(job.error));
      assert.equal(job.error?.retryable, false);
      assert.equal(job.attempt, 1, 'a signature failure is permanent: not retried');
      assert.equal(fs.existsSync(marker(name)), false, `${name} never ran`);
      return job;
    };

    // (a) Signed by the trusted key: runs, with real pyarrow output.
    const pub = await publishSigned('signed_ok', 'release.key');
    assert.match(pub.stdout, new RegExp(`signed by ${keyId}`));
    const ok = await c.waitJob((await c.submit('signed_ok', c.input('ok.csv', 'a\nb\nc\n'))).id);
    assert.equal(ok.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(ok.error));
    assert.deepEqual(tableFromIPC((await c.client.fetchOutput(ok.id)).ipc).toArray().map((r) => r.line), ['a', 'b', 'c']);
    assert.ok(fs.existsSync(marker('signed_ok')), 'the markers work: a plugin that ran left one');
    const listed = await cli('plugins');
    assert.match(listed.stdout, new RegExp(`signed_ok\\s+1\\.0\\.0\\s+\\S+\\s+\\S+\\s+${keyId}`), showCli(listed));

    // (b) Unsigned, on a worker that requires signatures: a clear, permanent refusal.
    await c.publish('unsigned', plugin(marker('unsigned')));
    const unsigned = await refusedJob('unsigned');
    assert.equal(unsigned.error?.code, 'SIGNATURE_REQUIRED');
    assert.match(unsigned.error!.message, /unsigned@1\.0\.0 is not signed.*--sign-key.*--allow-unsigned/);

    // (c) Tampered: signed at publish, then the stored source is changed in the Sentinel's database.
    await publishSigned('tampered', 'release.key');
    const db = await c.openStore();
    try {
      const changed = await db.updateTable('plugins').set({ source: plugin(marker('tampered'), 'stolen') }).where('name', '=', 'tampered').executeTakeFirst();
      assert.equal(Number(changed.numUpdatedRows), 1);
    } finally {
      await db.destroy();
    }
    const tampered = await refusedJob('tampered');
    assert.equal(tampered.error?.code, 'SIGNATURE_INVALID');
    assert.match(tampered.error!.message, new RegExp(`signature by key ${keyId} does not verify for the artifact this worker received`));

    // (d) Signed by a key the worker does not trust.
    await publishSigned('untrusted', 'rogue.key');
    const untrusted = await refusedJob('untrusted');
    assert.equal(untrusted.error?.code, 'SIGNATURE_INVALID');
    assert.match(untrusted.error!.message, /which this worker does not trust/);

    // A valid signature of signed_ok@1.0.0 replayed onto another version of the same content.
    const [signedRow] = (await c.client.listPlugins({ name: 'signed_ok' })).plugins;
    const stored = await c.openStore();
    const sig = (await stored.selectFrom('plugins').select('signature').where('name', '=', 'signed_ok').executeTakeFirstOrThrow()).signature!;
    await stored.destroy();
    await c.client.publishPlugin({
      name: 'signed_ok',
      version: '6.6.6',
      source: plugin(marker('replayed')),
      lockfile: SHARED_LOCKFILE,
      manifest: { description: '', envAllow: [], maxAttempts: 0, timeouts: undefined, limits: undefined, isolation: '', maxConcurrency: 0 },
      signature: Buffer.from(sig, 'base64'),
      signingKeyId: signedRow.signingKeyId,
    });
    const replay = await c.waitJob((await c.client.submitJob({ pluginName: 'signed_ok', pluginVersion: '6.6.6', inputPath: c.input('r.csv', 'x\n') })).job!.id);
    assert.equal(replay.error?.code, 'SIGNATURE_INVALID', JSON.stringify(replay.error));
    assert.equal(fs.existsSync(marker('replayed')), false, 'the replayed version never ran');

    // The Sentinel holds no keys but refuses a signature that cannot be one.
    await assert.rejects(
      c.client.publishPlugin({ name: 'bad_sig', version: '1.0.0', source: 'x = 1\n', lockfile: SHARED_LOCKFILE, signature: Buffer.alloc(10), signingKeyId: keyId }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /64-byte Ed25519 signature/.test(e.details),
    );
  });

  clusters.it("Worker.Run follows the worker's policy: unsigned code is refused as SIGNATURE_REQUIRED and never runs", async () => {
    const c = clusters.track(await ProcCluster.start());
    const port = await freePort();
    await c.startWorker('w1', { port, flags: { 'allow-unsigned': false } });
    const markerFile = path.join(c.root, 'run-marker');
    const wc = new WorkerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions());
    try {
      let verdict: RunResponse['msg'] | undefined;
      const call = wc.run(RunRequest.fromPartial({ pluginName: 'adhoc', source: plugin(markerFile), lockfile: SHARED_LOCKFILE, inputPath: c.input('x.csv', 'a\n') }));
      for await (const m of call as AsyncIterable<RunResponse>) if (m.msg?.$case === 'verdict') verdict = m.msg;
      assert.equal(verdict?.$case, 'verdict');
      assert.equal(verdict.verdict.status, VerdictStatus.VERDICT_STATUS_FAILED);
      assert.equal(verdict.verdict.error?.code, 'SIGNATURE_REQUIRED');
      assert.equal(fs.existsSync(markerFile), false);
    } finally {
      wc.close();
    }
  });
});
