/**
 * Isolation levels end to end (real Sentinel, a real worker in this process,
 * real Python): a plugin's manifest chooses its level, and the worker runs its
 * jobs accordingly — `fork` (the worker's default here) in a child of the
 * env's fork server, `spawn` in a fresh interpreter that is the worker's own
 * child, `reuse` in one guest process job after job. A bad level is refused
 * at publish.
 */
import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { tableFromIPC } from 'apache-arrow';
import { JobState } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';

const WHO = `
import os, sys
import pyarrow as pa
def parse(path):
    n = getattr(sys, "_casparian_jobs_here", 0) + 1
    sys._casparian_jobs_here = n
    return pa.table({"pid": [os.getpid()], "ppid": [os.getppid()], "argv0": [os.path.basename(sys.argv[0])], "n": [n]})
`;

interface Who {
  pid: number;
  ppid: number;
  argv0: string;
  n: number;
}

describe('integration: isolation levels chosen by the plugin manifest', function () {
  this.timeout(600_000);
  let c: Cluster;
  let seq = 0;

  before(async () => {
    c = await Cluster.start({ workers: [{ slots: 1, isolation: 'fork' }] });
    await c.publish('who_default', WHO);
    await c.publish('who_spawn', WHO, { isolation: 'spawn' });
    await c.publish('who_reuse', WHO, { isolation: 'reuse' });
  });
  after(() => c?.stop());

  async function who(plugin: string): Promise<Who> {
    const job = await c.waitJob((await c.submit(plugin, c.input(`in-${++seq}.txt`, 'x\n'))).id, 600_000);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
    const r = tableFromIPC((await c.client.fetchOutput(job.id)).ipc).get(0)!.toJSON();
    return { pid: Number(r.pid), ppid: Number(r.ppid), argv0: String(r.argv0), n: Number(r.n) };
  }

  it('no level in the manifest: the worker default, fork — a child of the fork server', async () => {
    const g = await who('who_default');
    const server = [...c.workers[0].forks.serverPids().values()][0];
    assert.ok(server, 'the worker runs a fork server');
    assert.equal(g.ppid, server);
    assert.equal(g.n, 1);
    assert.notEqual((await who('who_default')).pid, g.pid, 'one process per job');
  });

  it('spawn: a fresh interpreter, the worker’s own child', async () => {
    const g = await who('who_spawn');
    assert.equal(g.ppid, process.pid);
    assert.equal(g.argv0, 'bridge_shim.py');
  });

  it('reuse: one guest runs the plugin’s jobs in a row, and module state survives', async () => {
    const a = await who('who_reuse');
    const b = await who('who_reuse');
    assert.equal(b.pid, a.pid);
    assert.equal(b.n, a.n + 1);
    const listed = (await c.client.listPlugins({ name: 'who_reuse' })).plugins[0];
    assert.equal(listed.manifest?.isolation, 'reuse', 'ListPlugins shows the level');
  });

  it('a level that does not exist is INVALID_ARGUMENT at publish', async () => {
    await assert.rejects(c.publish('who_bad', WHO, { isolation: 'thread' }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /manifest.isolation/.test(e.message));
  });
});
