/**
 * Two Sentinel replicas on one PostgreSQL database and one output root, with
 * the only worker connected to replica A. What happens on one replica reaches
 * the other through the replica bus (LISTEN/NOTIFY):
 *  - a job submitted on B (which has no worker) is dispatched by A at once;
 *  - a WatchJob on B sees the plugin's log lines and progress, which exist
 *    only as events on A (the watcher's quiet-second re-read covers states,
 *    never logs), in order, and the final state;
 *  - a cancel asked of B stops the attempt running on A's worker;
 *  - a pause on B holds the plugin's jobs on A, a resume on A frees them;
 *  - B lists A's worker, and B's catalog learns the datasets A commits.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobEventKind, type WatchJobResponse } from '../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../services/gen/casparian/v1/types';
import { ProcCluster, useClusters } from '../helpers/proc-cluster';
import { waitFor } from '../helpers/wait';

const PROGRESS_PLUGIN = `
import time

import pyarrow as pa

import casparian


def parse(path):
    for b in range(3):
        yield pa.record_batch({"id": pa.array([b], pa.int64())})
        casparian.log(f"batch {b} written", level="info")
        casparian.progress(rows=b + 1, fraction=(b + 1) / 3, message=f"batch {b + 1}/3")
        time.sleep(0.3)
`;

const SLEEPY = `
import time

import pyarrow as pa


def parse(path):
    time.sleep(float(open(path).read().strip() or 0))
    return pa.table({"ok": [1]})
`;

describe('integration: the replica bus (two replicas on PostgreSQL, real processes)', function () {
  this.timeout(300_000);
  const clusters = useClusters();

  clusters.it('a submit, a watch, a cancel and a pause on replica B reach the worker on replica A', async () => {
    const c = clusters.track(await ProcCluster.start({ replicas: 2, leaseMs: 3_000, heartbeatMs: 500 }));
    await c.startWorker('w1', { slots: 1, sentinel: c.replicaAddress(0) });
    const [a, b] = [c.replicaClient(0), c.replicaClient(1)];
    await c.publish('progress3', PROGRESS_PLUGIN);
    await c.publish('sleepy', SLEEPY);

    // B lists A's worker, naming A's replica.
    const listed = await waitFor('replica B to list w1', async () => (await b.listWorkers({})).workers.find((w) => w.workerId === 'w1'), 15_000, 100);
    const onA = (await a.listWorkers({})).workers.find((w) => w.workerId === 'w1')!;
    assert.ok(listed.sentinelReplica && listed.sentinelReplica === onA.sentinelReplica, `${listed.sentinelReplica} vs ${onA.sentinelReplica}`);

    // A submit on B runs on A's worker; a watcher on B sees A's events.
    const input = c.input('in.txt', 'x\n');
    const job = (await b.submitJob({ pluginName: 'progress3', pluginVersion: '', inputPath: input, idempotencyKey: '', maxAttempts: 1 })).job!;
    const events: WatchJobResponse[] = [];
    for await (const e of b.watchJob(job.id)) events.push(e);
    const last = events[events.length - 1];
    assert.equal(last.job?.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(last.job?.error));
    const plugin = events
      .filter((e) => e.kind === JobEventKind.JOB_EVENT_KIND_PROGRESS || (e.kind === JobEventKind.JOB_EVENT_KIND_LOG && e.log?.source === 'plugin'))
      .map((e) => (e.kind === JobEventKind.JOB_EVENT_KIND_PROGRESS ? `progress ${e.progress!.rows}` : `log ${e.log!.message}`));
    assert.deepEqual(plugin, ['log batch 0 written', 'progress 1', 'log batch 1 written', 'progress 2', 'log batch 2 written', 'progress 3']);
    assert.equal(last.job?.workerId, 'w1');

    // B's catalog file gets the dataset A committed.
    const catalogB = path.join(c.root, 'data-1', 'catalog.duckdb');
    await waitFor('replica B to write its catalog', () => fs.existsSync(catalogB), 15_000, 100);

    // A cancel asked of B stops the attempt on A's worker.
    const sleepIn = c.input('sleep.txt', '60\n');
    const long = (await b.submitJob({ pluginName: 'sleepy', pluginVersion: '', inputPath: sleepIn, idempotencyKey: '', maxAttempts: 1 })).job!;
    await waitFor('the long job to run', async () => (await a.getJob({ jobId: long.id, includeLogs: false })).job!.state === JobState.JOB_STATE_RUNNING, 60_000, 50);
    const t0 = Date.now();
    await b.cancelJob({ jobId: long.id, reason: 'from B' });
    const cancelled = await waitFor('the attempt to stop', async () => {
      const j = (await b.getJob({ jobId: long.id, includeLogs: false })).job!;
      return j.state === JobState.JOB_STATE_CANCELLED ? j : undefined;
    }, 20_000, 50);
    assert.ok(Date.now() - t0 < 15_000, 'stopped well before its 60 s sleep or a lease expiry');
    assert.equal(cancelled.error?.code, 'CANCELLED');

    // A pause on B holds jobs on A; a resume on A frees them.
    await b.pausePlugin({ name: 'sleepy', version: '1.0.0', reason: 'hold' });
    const held = (await a.submitJob({ pluginName: 'sleepy', pluginVersion: '', inputPath: c.input('zero.txt', '0\n'), idempotencyKey: '', maxAttempts: 1 })).job!;
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await a.getJob({ jobId: held.id, includeLogs: false })).job!.state, JobState.JOB_STATE_QUEUED, 'held by the pause made on B');
    await a.resumePlugin({ name: 'sleepy', version: '1.0.0' });
    const done = await waitFor('the held job to run', async () => {
      const j = (await b.getJob({ jobId: held.id, includeLogs: false })).job!;
      return j.state === JobState.JOB_STATE_SUCCEEDED ? j : undefined;
    }, 30_000, 50);
    assert.equal(done.workerId, 'w1');
  });
});
