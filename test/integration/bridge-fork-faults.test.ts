/**
 * Faults of forked guests (real Python, the real fork server): cancel and the
 * timeouts take the guest's whole process group down, subprocesses included;
 * crashes are classified from the exit status the server reports; and a fork
 * server killed under a running guest fails the run as worker_lost, leaves
 * nothing behind, and is replaced by a new server on the next run.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { GuestHandle, LaunchGuest } from '../../services/worker/bridge/guest-handle';
import { CollectingSink, assertCleanedUp, useBridgeHarness } from '../helpers/bridge-harness';
import { useForkPool } from '../helpers/fork-harness';
import { pidAlive } from '../helpers/proc-inspect';
import { waitFor } from '../helpers/wait';

/** Starts `sleep 120` in its group, logs "child PID", then runs `then`. */
const withChild = (then: string) => `
import os, subprocess, sys, time
from casparian import log
def parse(path):
    child = subprocess.Popen(["sleep", "120"])
    log("child %d" % child.pid)
${then}
`;

/** A sink that records the pid the plugin logs as "child PID". */
function childSink(onChild?: (pid: number) => void): { sink: CollectingSink; child: () => number } {
  let pid = 0;
  const sink = new CollectingSink((e) => {
    if (e.kind === 'log' && e.message.startsWith('child ')) {
      pid = Number(e.message.slice(6));
      onChild?.(pid);
    }
  });
  return { sink, child: () => pid };
}

describe('bridge: faults of forked guests (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-fork-faults-test-', 'id\n1\n');
  const f = useForkPool(h);
  const quick = { connectMs: 20_000, idleMs: 20_000, totalMs: 60_000, killGraceMs: 500 };

  it('cancel: the forked guest and the subprocess it started are gone', async () => {
    const ac = new AbortController();
    const { sink, child } = childSink(() => setTimeout(() => ac.abort('user asked'), 50));
    const { outcome } = await h.run(withChild('    while True:\n        time.sleep(0.05)'), sink, { timeouts: quick }, ac.signal, f.launch());
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.error?.code, 'CANCELLED');
    assert.ok(child() > 0);
    assertCleanedUp(outcome);
    assert.ok(!pidAlive(child()), 'the subprocess went with the group');
  });

  it('idle timeout: typed, and the whole group is gone', async () => {
    const { sink, child } = childSink();
    const { outcome } = await h.run(withChild('    time.sleep(60)'), sink, { timeouts: { ...quick, idleMs: 700 } }, undefined, f.launch());
    assert.equal(outcome.error?.errorClass, 'timeout');
    assert.match(outcome.error!.message, /idle timeout/);
    assertCleanedUp(outcome);
    assert.ok(!pidAlive(child()));
  });

  it('start-to-close timeout: typed, and the whole group is gone', async () => {
    const { sink, child } = childSink();
    const { outcome } = await h.run(withChild('    while True:\n        time.sleep(0.05)'), sink, { timeouts: { ...quick, totalMs: 1_500 } }, undefined, f.launch());
    assert.equal(outcome.error?.errorClass, 'timeout');
    assert.match(outcome.error!.message, /start-to-close timeout/);
    assertCleanedUp(outcome);
    assert.ok(!pidAlive(child()));
  });

  it('os._exit(3) while the plugin runs: permanent GUEST_CRASHED, naming the code and the last stderr line', async () => {
    const { outcome } = await h.run('import os, sys\ndef parse(path):\n    print("about to leave", file=sys.stderr, flush=True)\n    os._exit(3)\n', undefined, { timeouts: quick }, undefined, f.launch());
    assert.equal(outcome.error?.code, 'GUEST_CRASHED', JSON.stringify(outcome.error));
    assert.equal(outcome.error?.errorClass, 'permanent');
    assert.match(outcome.error!.message, /exited with code 3 .*about to leave/);
    assert.equal(outcome.exitCode, 3);
    assertCleanedUp(outcome);
  });

  it('killed by SIGKILL while the plugin runs: transient GUEST_CRASHED', async () => {
    const { outcome } = await h.run('import os, signal\ndef parse(path):\n    os.kill(os.getpid(), signal.SIGKILL)\n', undefined, { timeouts: quick }, undefined, f.launch());
    assert.equal(outcome.error?.code, 'GUEST_CRASHED', JSON.stringify(outcome.error));
    assert.equal(outcome.error?.errorClass, 'transient');
    assert.equal(outcome.signal, 'SIGKILL');
    assertCleanedUp(outcome);
  });

  it('over its CPU limit: SIGXCPU, reported by the server, is RESOURCE_LIMIT', async () => {
    const { outcome } = await h.run('def parse(path):\n    while True:\n        pass\n', undefined, { timeouts: quick, limits: { memoryMb: 0, cpuSeconds: 1, openFiles: 0 } }, undefined, f.launch());
    assert.equal(outcome.error?.code, 'RESOURCE_LIMIT', JSON.stringify(outcome.error));
    assert.equal(outcome.signal, 'SIGXCPU');
    assertCleanedUp(outcome);
  });

  it('killed before the handshake: GUEST_START_FAILED, not the plugin’s fault', async () => {
    // The guest is pointed at a decoy socket that takes its HELLO and never answers; once
    // the decoy has it (the guest is alive and waiting), the guest is killed.
    const decoyPath = path.join(h.work, 'decoy.sock');
    let hello!: () => void;
    const helloSeen = new Promise<void>((resolve) => (hello = resolve));
    const decoy = net.createServer((s) => s.once('data', () => hello()));
    await new Promise<void>((resolve) => decoy.listen(decoyPath, resolve));
    const forked = f.launch();
    const killedEarly: LaunchGuest = async (req) => {
      const guest: GuestHandle = await forked({ ...req, env: { ...req.env, CASPARIAN_BRIDGE_SOCKET: decoyPath } });
      await helloSeen;
      process.kill(guest.pid!, 'SIGKILL');
      await guest.exited; // the run learns of the exit only from the handle it is given
      return guest;
    };
    try {
      const { outcome } = await h.run('def parse(path):\n    pass\n', undefined, { timeouts: quick }, undefined, killedEarly);
      assert.equal(outcome.error?.code, 'GUEST_START_FAILED', JSON.stringify(outcome.error));
      assert.equal(outcome.error?.errorClass, 'transient');
      assert.match(outcome.error!.message, /was killed by SIGKILL before the bridge handshake/);
      assertCleanedUp(outcome);
    } finally {
      decoy.close();
      fs.rmSync(decoyPath, { force: true });
    }
  });

  it('the fork server killed under a running guest: worker_lost, nothing left, and the next run gets a new server', async () => {
    await h.run('def parse(path):\n    pass\n', undefined, { timeouts: quick }, undefined, f.launch()); // the server is up
    const server = f.serverPid()!;
    assert.ok(server > 0);
    const { sink, child } = childSink(() => process.kill(server, 'SIGKILL'));
    const { outcome } = await h.run(withChild('    while True:\n        time.sleep(0.05)'), sink, { timeouts: quick }, undefined, f.launch());
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'WORKER_LOST', JSON.stringify(outcome.error));
    assert.equal(outcome.error?.errorClass, 'worker_lost');
    assert.equal(outcome.error?.retryable, true);
    assert.match(outcome.error!.message, /fork server .* ended: it was killed by SIGKILL/);
    assertCleanedUp(outcome);
    assert.ok(!pidAlive(child()), "the guest's subprocess is gone too");
    await waitFor('the killed server to be gone', () => !pidAlive(server), 5_000, 50);

    const again = await h.run('import pyarrow as pa\ndef parse(path):\n    return pa.table({"a": [1]})\n', undefined, { timeouts: quick }, undefined, f.launch());
    assert.equal(again.outcome.status, 'succeeded', JSON.stringify(again.outcome.error));
    const restarted = f.serverPid();
    assert.ok(restarted && restarted !== server, 'a new server was started');
    assert.equal(
      f.logs.filter((l) => l.msg === 'fork server died').length,
      1,
      'the death was logged once',
    );
  });
});
