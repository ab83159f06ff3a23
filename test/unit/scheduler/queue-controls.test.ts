/**
 * The scheduler's queue controls on an in-memory SQLite with a fake clock and
 * fake workers: priority order, not_before, and per-plugin concurrency caps.
 */
import { strict as assert } from 'node:assert';
import { STORES, openTestDb } from '../../helpers/stores';
import { DEFAULT_BACKOFF } from '../../../services/common/config';
import { silentLogger } from '../../../services/common/logger';
import type { Db } from '../../../services/sentinel/db/open-database';
import { JobEvents } from '../../../services/sentinel/job-events';
import { JobLifecycle } from '../../../services/sentinel/lifecycle/job-lifecycle';
import { compileManifest } from '../../../services/sentinel/plugins/manifest';
import { publishPlugin } from '../../../services/sentinel/plugins/registry';
import { getJob, type NewJob } from '../../../services/sentinel/queue';
import { Scheduler } from '../../../services/sentinel/scheduler/scheduler';
import type { DispatchOrder, WorkerSession } from '../../../services/sentinel/scheduler/worker-session';
import { T0, newJob } from '../queue/fixtures';

function worker(id: string, slots: number, sent: DispatchOrder[]): WorkerSession {
  return {
    workerId: id,
    hostname: 'h',
    version: 'v',
    slots,
    envMode: 'auto',
    mayProvision: true,
    envs: new Map(),
    connectedAt: 0,
    lastHeartbeatAt: 0,
    draining: false,
    suspect: false,
    inFlight: new Set(),
    sendDispatch: (o) => (sent.push(o), true),
    sendCancel: () => true,
    close: () => {},
  };
}

for (const store of STORES) describe(`unit: scheduler queue controls [${store}]`, () => {
  let db: Db;
  let now: number;
  let scheduler: Scheduler;
  let life: JobLifecycle;
  let sent: DispatchOrder[];
  let seq = 0;

  beforeEach(async () => {
    db = await openTestDb(store);
    now = T0;
    sent = [];
    const clock = { now: () => now };
    // The lifecycle wakes the scheduler; kicks are left out so each test runs rounds itself.
    const slots = { release: () => {}, freeSlot: () => {}, kick: () => {}, cancelOnWorker: () => true, refreshPaused: async () => {} };
    life = new JobLifecycle({ db, clock, events: new JobEvents(), policy: { leaseMs: 60_000, backoff: DEFAULT_BACKOFF, breakerThreshold: 0 }, slots, logger: silentLogger });
    scheduler = new Scheduler({ db, clock, lifecycle: life, tickMs: 3_600_000, logger: silentLogger });
  });
  afterEach(async () => {
    await scheduler.stop();
    await db.destroy();
  });

  async function publish(name: string, version: string, maxConcurrency = 0): Promise<void> {
    const manifest = compileManifest({ maxConcurrency });
    await publishPlugin(db, { name, version, source: 'def parse(path): pass', lockfile: 'pyarrow\n', manifest }, now);
  }
  async function submit(over: Partial<NewJob> = {}): Promise<string> {
    const id = `j${String(++seq).padStart(4, '0')}`;
    await life.submitted({ job: newJob(id, over) });
    return id;
  }
  /** One scheduler round (a tick: caps and pauses re-read), awaited. */
  async function round(): Promise<void> {
    const s = scheduler as unknown as { schedule(tick: boolean): void; running?: Promise<void>; tickDue: boolean };
    s.schedule(true);
    // A kick round may be running (refreshCaps kicks): then the tick is due after it, on the next turn of the loop.
    while (s.running || s.tickDue) await (s.running ?? new Promise((r) => setImmediate(r)));
  }
  const dispatched = (): string[] => sent.map((o) => o.ref.jobId);

  it('runs the highest priority first, FIFO within a priority, whatever the queue length', async () => {
    await publish('p', '1');
    const low = [];
    for (let i = 0; i < 100; i++) low.push(await submit());
    const neg = await submit({ priority: -1 });
    const high = [await submit({ priority: 5 }), await submit({ priority: 5 })];
    const w = worker('w1', 1, sent);
    scheduler.addWorker(w);
    await round();
    assert.deepEqual(dispatched(), [high[0]]);
    w.inFlight.clear();
    await round();
    assert.deepEqual(dispatched(), [...high]);
    w.slots = 3;
    w.inFlight.clear();
    await round();
    assert.deepEqual(dispatched(), [...high, low[0], low[1], low[2]], 'then priority 0, oldest first');
    assert.equal((await getJob(db, neg))?.state, 'queued', 'a negative priority waits behind the default');
  });

  it('does not start a job before its not_before, and says why it waits', async () => {
    await publish('p', '1');
    const later = await submit({ notBefore: T0 + 2_000, priority: 9 });
    const row = await getJob(db, later);
    assert.equal(row?.run_at, T0 + 2_000);
    assert.equal(scheduler.waitingReason(row!), `waiting: not before ${new Date(T0 + 2_000).toISOString()}`);
    const now1 = await submit();
    scheduler.addWorker(worker('w1', 4, sent));
    await round();
    assert.deepEqual(dispatched(), [now1]);
    now = T0 + 1_999;
    await round();
    assert.deepEqual(dispatched(), [now1]);
    now = T0 + 2_000;
    await round();
    assert.deepEqual(dispatched(), [now1, later]);
  });

  it('holds a capped plugin at its cap with free slots, and lets other plugins past it', async () => {
    await publish('capped', '1', 1);
    await publish('free', '1');
    // More capped jobs than one listing holds (16 for a worker with 4 slots), ahead of the others.
    const capped = [];
    for (let i = 0; i < 40; i++) capped.push(await submit({ pluginName: 'capped' }));
    const others = [await submit({ pluginName: 'free' }), await submit({ pluginName: 'free' }), await submit({ pluginName: 'free' })];
    const w = worker('w1', 4, sent);
    scheduler.addWorker(w);
    await round();
    assert.deepEqual(dispatched(), [capped[0], ...others]);
    const waiting = (await getJob(db, capped[1]))!;
    assert.equal(scheduler.waitingReason(waiting), 'waiting: plugin capped is at its concurrency cap (max_concurrency 1; 1 running)');
    // Free slots are not enough: the running attempt still counts.
    w.inFlight.clear();
    await round();
    assert.deepEqual(dispatched(), [capped[0], ...others]);
    // Once it settles, the next one goes.
    const first = (await getJob(db, capped[0]))!;
    await life.attemptSucceeded({ ref: { jobId: first.id, attempt: first.attempt, leaseToken: first.lease_token! }, outputs: [], metrics: { rows: 0, durationMs: 1, envMs: 0, envProvisioned: false, arrowBytes: 0 } });
    await round();
    assert.deepEqual(dispatched(), [capped[0], ...others, capped[1]]);
  });

  it('counts every version of a plugin against the cap of its newest version', async () => {
    await publish('p', '1', 3);
    const v1 = [await submit({ pluginVersion: '1' }), await submit({ pluginVersion: '1' })];
    const w = worker('w1', 8, sent);
    scheduler.addWorker(w);
    await round();
    assert.deepEqual(dispatched(), v1, 'cap 3: both run');
    await publish('p', '2', 2);
    await scheduler.refreshCaps();
    await submit({ pluginVersion: '2' });
    await round();
    assert.deepEqual(dispatched(), v1, 'cap 2 now, and two attempts of version 1 hold it');
    await publish('p', '3');
    await scheduler.refreshCaps();
    await round();
    assert.equal(dispatched().length, 3, 'a newest version without a cap lifts it');
  });
});
