/**
 * Isolation `reuse` (real Python, the real fork server): one guest process
 * serves many runs in a row, so module state survives between them; a crash,
 * cancel or timeout ends that guest and fails only its own run, and the next
 * run gets a fresh process. Runs with resource limits, other plugins and
 * other plugin versions never share a guest.
 */
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import { silentLogger } from '../../services/common/logger';
import { isolatedGuest } from '../../services/worker/attempt/isolated-guest';
import type { GuestStartRequest } from '../../services/worker/attempt/types';
import type { BridgeOutcome } from '../../services/worker/bridge/types';
import { CollectingSink, SHIM, assertCleanedUp, useBridgeHarness } from '../helpers/bridge-harness';
import { useForkPool } from '../helpers/fork-harness';
import { pidAlive } from '../helpers/proc-inspect';
import { waitFor } from '../helpers/wait';

/** Counts its runs in module state that outlives the plugin module (an attribute of `sys`). */
const COUNTER = `
import os, sys, time
import pyarrow as pa
_me = object()

def parse(path):
    with open(path) as f:
        mode = f.read().strip()
    n = getattr(sys, "_casparian_test_runs", 0) + 1
    sys._casparian_test_runs = n
    if mode == "crash":
        os._exit(3)
    if mode == "hang":
        time.sleep(60)
    if mode == "slow":
        time.sleep(0.5)
    mine = sys.modules.get(__name__)
    return pa.table({"pid": [os.getpid()], "n": [n], "registered": [getattr(mine, "_me", None) is _me]})
`;

interface Seen {
  pid: number;
  n: number;
  registered: boolean;
}

describe('bridge: isolation reuse (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-reuse-test-', 'ok\n');
  const f = useForkPool(h, { maxIdleGuests: 2 });
  const quick = { connectMs: 20_000, idleMs: 20_000, totalMs: 60_000, killGraceMs: 500 };

  function seen(outcome: BridgeOutcome, sink: CollectingSink): Seen {
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    const r = tableFromIPC(sink.bytes('default')).get(0)!.toJSON();
    return { pid: Number(r.pid), n: Number(r.n), registered: r.registered as boolean };
  }

  async function run(key: string, mode = 'ok', timeouts = quick): Promise<{ outcome: BridgeOutcome; sink: CollectingSink }> {
    const fs = await import('node:fs');
    fs.writeFileSync(h.csvPath, `${mode}\n`);
    return h.run(COUNTER, undefined, { timeouts }, undefined, f.launch(key));
  }

  it('runs the next job in the same process: module state survives, and the plugin module is registered anew', async () => {
    const a = await run('state');
    const first = seen(a.outcome, a.sink);
    const b = await run('state');
    const second = seen(b.outcome, b.sink);
    assert.equal(second.pid, first.pid, 'the same guest process');
    assert.equal(first.n, 1);
    assert.equal(second.n, 2, 'what the first job left in sys survives');
    assert.equal(second.registered, true, "sys.modules holds this job's plugin module, not the previous one's");
    assert.equal(b.outcome.exitCode, null, 'the guest is still running');
    assert.ok(pidAlive(second.pid));
    const other = await run('another-plugin');
    assert.notEqual(seen(other.outcome, other.sink).pid, first.pid, 'another key never gets that guest');
  });

  it('a crash in a reused guest fails only its job; the next job runs in a fresh process', async () => {
    const warm = await run('crash');
    const before = seen(warm.outcome, warm.sink);
    const crashed = await run('crash', 'crash');
    assert.equal(crashed.outcome.pid, before.pid, 'the crash happened in the reused guest');
    assert.equal(crashed.outcome.error?.code, 'GUEST_CRASHED', JSON.stringify(crashed.outcome.error));
    assertCleanedUp(crashed.outcome);
    const after = await run('crash');
    const fresh = seen(after.outcome, after.sink);
    assert.notEqual(fresh.pid, before.pid);
    assert.equal(fresh.n, 1, 'fresh module state');
  });

  it('a timeout ends the reused guest too (cancel takes the same path)', async () => {
    const warm = await run('timeout');
    const before = seen(warm.outcome, warm.sink);
    const timedOut = await run('timeout', 'hang', { ...quick, totalMs: 1_000 });
    assert.equal(timedOut.outcome.error?.errorClass, 'timeout');
    assert.equal(timedOut.outcome.pid, before.pid);
    assertCleanedUp(timedOut.outcome);
    const after = await run('timeout');
    assert.equal(seen(after.outcome, after.sink).n, 1, 'a fresh process');
  });

  it('keeps at most maxIdleGuests idle guests', async () => {
    const runs = await Promise.all([run('many', 'slow'), run('many', 'slow'), run('many', 'slow')]);
    const pids = runs.map((r) => seen(r.outcome, r.sink).pid);
    assert.equal(new Set(pids).size, 3, 'three guests served three overlapping runs');
    await waitFor('one guest over the cap to be ended', () => pids.filter(pidAlive).length === 2, 5_000, 50);
  });

  describe('as the worker starts guests (isolatedGuest)', () => {
    function start(job: Partial<GuestStartRequest['job']> = {}): Promise<BridgeOutcome> {
      const startGuest = isolatedGuest({ isolation: 'reuse', shimPath: SHIM, hostEnv: process.env, forks: f.pool });
      const spec = h.spec(COUNTER, { timeouts: quick });
      const sink = new CollectingSink();
      return startGuest({ envHash: f.envHash, python: h.python, isolation: '', job: { ...spec, ...job } }, sink, {
        signal: new AbortController().signal,
        logger: silentLogger,
      });
    }

    it('shares a guest only between runs of the same plugin version and source, and never for a run with rlimits', async () => {
      const fs = await import('node:fs');
      fs.writeFileSync(h.csvPath, 'ok\n');
      const a = await start();
      const b = await start();
      assert.equal(b.pid, a.pid, 'same plugin, version and source: reused');
      assert.notEqual((await start({ pluginVersion: '2.0.0' })).pid, a.pid, 'another version');
      assert.notEqual((await start({ source: `${COUNTER}\n# changed\n` })).pid, a.pid, 'another source');
      const limited = await start({ limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 256 } });
      assert.equal(limited.status, 'succeeded', JSON.stringify(limited.error));
      assert.notEqual(limited.pid, a.pid, 'a run with rlimits gets a guest of its own');
      assert.equal(limited.exitCode, 0, 'which ends with its run');
    });
  });
});
