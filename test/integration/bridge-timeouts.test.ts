/**
 * The bridge host's timeouts and cancel against a real Python: each ends the
 * run with a typed error and takes the guest's whole process group down.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { CollectingSink, assertCleanedUp, useBridgeHarness } from '../helpers/bridge-harness';
import { pidAlive } from '../helpers/proc-inspect';

describe('bridge host timeouts and cancel (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-timeouts-test-', 'id,name,score\n1,ada,9.5\n2,grace,8.25\n3,linus,7\n');

  it("times out a guest that never connects (the bridge's fault, not the plugin's), and kills it", async () => {
    const sleeper = path.join(h.work, 'sleeper.py');
    fs.writeFileSync(sleeper, 'import time\ntime.sleep(60)\n');
    const started = Date.now();
    const { outcome } = await h.run('', undefined, {
      shimPath: sleeper,
      timeouts: { connectMs: 500, idleMs: 20_000, totalMs: 60_000, killGraceMs: 500 },
    });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'transient');
    assert.equal(outcome.error?.code, 'GUEST_START_FAILED');
    assert.match(outcome.error!.message, /guest connect timeout/);
    assert.equal(outcome.signal, 'SIGTERM');
    assert.ok(Date.now() - started < 10_000);
    assertCleanedUp(outcome);
  });

  it('enforces the start-to-close timeout and kills the whole process group', async () => {
    let childPid = 0;
    const sink = new CollectingSink((e) => {
      if (e.kind === 'log' && e.message.startsWith('child ')) childPid = Number(e.message.slice(6));
    });
    const { outcome } = await h.run(
      `
import subprocess, time
from casparian import log
def parse(path):
    child = subprocess.Popen(["sleep", "120"])
    log("child %d" % child.pid)
    while True:
        time.sleep(0.05)
`,
      sink,
      { timeouts: { connectMs: 20_000, idleMs: 20_000, totalMs: 2_000, killGraceMs: 500 } },
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'timeout');
    assert.match(outcome.error!.message, /start-to-close timeout/);
    assert.equal(outcome.error?.retryable, true);
    assert.ok(childPid > 0, 'the plugin reported its subprocess');
    assertCleanedUp(outcome);
    assert.ok(!pidAlive(childPid), 'the plugin subprocess was killed with the group');
  });

  it('enforces the idle timeout', async () => {
    const { outcome } = await h.run(
      `
import time
def parse(path):
    time.sleep(30)
`,
      undefined,
      { timeouts: { connectMs: 20_000, idleMs: 700, totalMs: 60_000, killGraceMs: 500 } },
    );
    assert.equal(outcome.error?.errorClass, 'timeout');
    assert.match(outcome.error!.message, /idle timeout/);
    assertCleanedUp(outcome);
  });

  it('does not count time the sink holds the stream back as idle', async () => {
    const sink = new CollectingSink((e) =>
      e.kind === 'arrow' ? new Promise<void>((resolve) => setTimeout(resolve, 150)) : undefined,
    );
    const { outcome } = await h.run(
      `
import pyarrow as pa
def parse(path):
    for i in range(6):
        yield pa.record_batch({"i": [i]})
`,
      sink,
      { timeouts: { connectMs: 20_000, idleMs: 400, totalMs: 60_000, killGraceMs: 500 } },
    );
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    assert.deepEqual([...tableFromIPC(sink.bytes('default')).getChild('i')!.toArray()].map(Number), [0, 1, 2, 3, 4, 5]);
  });

  it('cancels through the AbortSignal', async () => {
    const ac = new AbortController();
    const sink = new CollectingSink((e) => {
      if (e.kind === 'log' && e.message === 'working') setTimeout(() => ac.abort('user asked'), 50);
    });
    const { outcome } = await h.run(
      `
import time
from casparian import log
def parse(path):
    log("working")
    while True:
        time.sleep(0.05)
`,
      sink,
      {},
      ac.signal,
    );
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.error?.errorClass, 'cancelled');
    assert.equal(outcome.error?.code, 'CANCELLED');
    assert.match(outcome.error!.message, /user asked/);
    assertCleanedUp(outcome);
  });

  it('returns cancelled at once for an already aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    const { outcome } = await h.run('def parse(path): pass', undefined, {}, ac.signal);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.pid, null);
  });

});
