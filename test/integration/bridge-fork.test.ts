/**
 * A forked guest is the guest a spawned one would be (real Python, real
 * pyarrow, the real fork server): its own session and process group, the
 * per-job environment and cwd, the same signal dispositions, no descriptor
 * of the server, a fresh random state, the job's rlimits (which never reach
 * the server), and its stdout/stderr as tails. The same plugin runs once
 * spawned and once forked, and what it sees of itself is compared.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { CollectingSink, assertCleanedUp, useBridgeHarness } from '../helpers/bridge-harness';
import { useForkPool } from '../helpers/fork-harness';
import type { BridgeOutcome } from '../../services/worker/bridge/types';

const SECRET = ['worker', 'secret', '41d7'].join('-');

/** Reports what the guest process sees of itself. */
const SELF_REPORT = `
import json, os, random, resource, sys, threading
import pyarrow as pa

def fds():
    out = []
    for name in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue  # the descriptor listdir itself used
        if target.startswith("/proc/"):
            continue
        out.append(name + "=" + target.split(":")[0])
    return ",".join(out)

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]

def parse(path):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    with open("/proc/self/environ", "rb") as f:
        initial_environ = f.read().decode("utf-8", "replace")
    return pa.table({
        "pid": [os.getpid()], "pgid": [os.getpgid(0)], "sid": [os.getsid(0)], "ppid": [os.getppid()],
        "env": [json.dumps({k: v for k, v in os.environ.items() if k != "HOME"}, sort_keys=True)],
        "home": [os.environ.get("HOME", "")], "cwd": [os.getcwd()],
        "fds": [fds()],
        "sigign": [status("SigIgn")], "sigblk": [status("SigBlk")], "sigcgt": [status("SigCgt")],
        "nofile": [str(resource.getrlimit(resource.RLIMIT_NOFILE))],
        "argv0": [os.path.basename(sys.argv[0])], "path0": [sys.path[0]],
        "threads": [threading.active_count()], "umask": [os.umask(0o022)],
        "rand": [str(random.getrandbits(64))],
        "secret_seen": [${JSON.stringify(SECRET)} in initial_environ + json.dumps(dict(os.environ))],
        "token_seen": ["CASPARIAN_BRIDGE_TOKEN" in initial_environ + json.dumps(dict(os.environ))],
    })
`;

type Report = Record<string, unknown>;

function report({ outcome, sink }: { outcome: BridgeOutcome; sink: CollectingSink }): Report {
  assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
  const row = tableFromIPC(sink.bytes('default')).get(0)!.toJSON() as Report;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]));
}

describe('bridge: a forked guest is the guest a spawned one would be (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-fork-test-', 'id\n1\n');
  const f = useForkPool(h);

  before(() => {
    process.env.CASPARIAN_TEST_SECRET = SECRET;
  });
  after(() => {
    delete process.env.CASPARIAN_TEST_SECRET;
  });

  it('runs in a session and process group of its own, as a child of the fork server, and leaves nothing behind', async () => {
    const run = await h.run(SELF_REPORT, undefined, {}, undefined, f.launch());
    const { outcome } = run;
    const r = report(run);
    assert.equal(r.pid, outcome.pid);
    assert.equal(r.pgid, r.pid, 'it leads its own process group');
    assert.equal(r.sid, r.pid, 'and its own session');
    assert.equal(r.ppid, f.serverPid(), "it is the fork server's child, not the worker's");
    assert.equal(outcome.exitCode, 0, 'its exit status came from the server');
    assert.match(outcome.stdoutTail, /to stdout/);
    assert.match(outcome.stderrTail, /to stderr/);
    assertCleanedUp(outcome);
  });

  it("sees a spawned guest's environment, cwd, signals and limits, no descriptor of the server, and never the worker's secrets", async () => {
    const spawned = report(await h.run(SELF_REPORT));
    const forked = report(await h.run(SELF_REPORT, undefined, {}, undefined, f.launch()));
    for (const key of ['env', 'sigign', 'sigblk', 'sigcgt', 'nofile', 'argv0', 'path0', 'threads', 'umask']) {
      assert.deepEqual(forked[key], spawned[key], `${key}: forked ${JSON.stringify(forked[key])}, spawned ${JSON.stringify(spawned[key])}`);
    }
    // A spawned guest inherits whatever descriptors the worker itself inherited without close-on-exec;
    // a forked one has stdin, its two pipes and its bridge socket, and nothing of the server.
    assert.equal(forked.fds, '0=/dev/null,1=pipe,2=pipe,3=socket');
    assert.equal(forked.home, forked.cwd, 'HOME and cwd are the private directory');
    assert.match(forked.home as string, /casparian-bridge-/);
    assert.equal(forked.secret_seen, false, "the worker's secret is nowhere in the forked guest");
    assert.equal(forked.token_seen, false, 'nor is the bridge token, once the shim has read it');
  });

  it('gets a random state of its own', async () => {
    const a = report(await h.run(SELF_REPORT, undefined, {}, undefined, f.launch()));
    const b = report(await h.run(SELF_REPORT, undefined, {}, undefined, f.launch()));
    assert.notEqual(a.pid, b.pid);
    assert.notEqual(a.rand, b.rand, 'two forked guests do not share the random sequence of their server');
  });

  it("applies the job's rlimits in the child only: the next guest of the same server has none", async () => {
    const hog = `
import pyarrow as pa
def parse(path):
    files = [open(path) for _ in range(100)]
    return pa.table({"n": [len(files)]})
`;
    const limited = await h.run(hog, undefined, { limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 64 } }, undefined, f.launch());
    assert.equal(limited.outcome.error?.errorClass, 'resource_limit', JSON.stringify(limited.outcome.error));
    assert.match(limited.outcome.error!.message, /open-files limit of 64/);
    const free = await h.run(hog, undefined, {}, undefined, f.launch());
    assert.equal(free.outcome.status, 'succeeded', JSON.stringify(free.outcome.error));
    assert.equal(free.outcome.pid === limited.outcome.pid, false);
  });

  it('keeps the fork server single-threaded (forking a threaded process is unsafe)', async () => {
    await h.run('import pyarrow as pa\ndef parse(path):\n    return pa.table({"a": [1]})\n', undefined, {}, undefined, f.launch());
    const pid = f.serverPid()!;
    assert.deepEqual(fs.readdirSync(`/proc/${pid}/task`), [String(pid)], 'one thread: pyarrow started none (its jemalloc is told not to)');
  });
});
