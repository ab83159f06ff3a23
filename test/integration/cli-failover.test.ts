/**
 * The casparian CLI (a real subprocess) given several Sentinel addresses,
 * against a real Sentinel process: an address where nothing listens is
 * passed over, reads and a submit (without an idempotency key: nothing was
 * sent to the dead address) go to the live one, `submit --wait` follows its
 * batch across a connection cut under its WatchJobs stream, and with every
 * address dead the error names them all.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { JobState } from '../../services/gen/casparian/v1/types';
import { runCli as cli, showCli as show } from '../helpers/cli-run';
import { faultPlugin, warmUp, writeCsv } from '../helpers/data-fixtures';
import { freePort } from '../helpers/managed-proc';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { TcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe('integration: the CLI fails over between Sentinel addresses', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('given DEAD,LIVE: lists jobs, submits once, and waits for a batch on LIVE', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'] }));
    await c.publish('values', faultPlugin('values.py'));
    const warm = await warmUp(c);
    const sentinel = ['--sentinel', `127.0.0.1:${await freePort()},${c.address}`];

    const jobs = await cli(['jobs', '--json', ...sentinel], { timeoutMs: 60_000 });
    assert.equal(jobs.code, 0, show(jobs));
    assert.ok(jobs.stdout.includes(warm.id), show(jobs));

    const file = writeCsv(c.inputDir, 'once.csv', 3, 2);
    const submitted = await cli(['submit', 'values', file, ...sentinel], { timeoutMs: 60_000 });
    assert.equal(submitted.code, 0, show(submitted));
    const id = UUID.exec(submitted.stdout)?.[0];
    assert.ok(id && submitted.stdout.startsWith(`submitted ${id}`), show(submitted));
    const mine = (await c.listJobs('values')).filter((j) => j.inputPath === file);
    assert.deepEqual(mine.map((j) => j.id), [id], 'one job: the submit was sent once');

    const waited = await cli(['submit', 'values', writeCsv(c.inputDir, 'wait.csv', 2, 4), '--wait', ...sentinel], { timeoutMs: 120_000 });
    assert.equal(waited.code, 0, show(waited));
    assert.match(waited.stdout, /succeeded/, show(waited));
  });

  clusters.it('submit --wait goes on when its WatchJobs stream breaks: opened again on the next address', async () => {
    const c = clusters.track(await ProcCluster.start({ workers: ['w1'] }));
    await c.publish('values', faultPlugin('values.py'));
    await warmUp(c);
    const proxy = await TcpProxy.start(c.port);
    try {
      const file = writeCsv(c.inputDir, 'slow.csv', 4, 5, ['# sleep=4']);
      const run = cli(['submit', 'values', file, '--wait', '--json', '--sentinel', `${proxy.address},${c.address}`], { timeoutMs: 120_000 });
      await waitFor('the plugin to start', () => fs.existsSync(`${file}.runs`), 60_000, 50);
      assert.ok(proxy.connections > 0, 'the CLI is connected through the proxy');
      proxy.cut(); // every connection through it drops, new ones are refused: that address is gone
      const r = await run;
      assert.equal(r.code, 0, show(r));
      // submit --wait --json prints the final jobs as one ListJobsResponse.
      const finals = (JSON.parse(r.stdout) as { jobs: { id: string; state: string }[] }).jobs;
      assert.equal(finals.length, 1, show(r));
      const job = await c.getJob(finals[0].id);
      assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
      assert.equal((await c.listJobs('values')).filter((j) => j.inputPath === file).length, 1, 'submitted once');
    } finally {
      await proxy.close();
    }
  });

  it('with every address dead, exits 1 with UNAVAILABLE naming each address, promptly', async () => {
    const dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    for (const args of [['jobs'], ['submit', 'values', '/tmp/x.csv']]) {
      const r = await cli([...args, '--sentinel', dead.join(',')], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, new RegExp(`^error: UNAVAILABLE: cannot reach the Sentinel at any of ${dead.join(', ')}: ${dead[0]}: .*; ${dead[1]}: `, 'm'), show(r));
      assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
    }
  });

  it('refuses a bad entry with exit 2, naming it', async () => {
    const r = await cli(['jobs', '--sentinel', '127.0.0.1:1,sentinel-b'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /^--sentinel \(CASPARIAN_SENTINEL\) must be a comma-separated list of HOST:PORT or dns:\/\/\/NAME:PORT, got "127\.0\.0\.1:1,sentinel-b": entry "sentinel-b": has no port/);
    const env = await cli(['jobs'], { timeoutMs: 30_000, env: { CASPARIAN_SENTINEL: 'a:1,a:99999' } });
    assert.equal(env.code, 2, show(env));
    assert.match(env.stderr, /^CASPARIAN_SENTINEL \(--sentinel\) must be .*: entry "a:99999": port "99999" is not a number from 1 to 65535/);
  });
});
