/**
 * The bridge host against a real Python with pyarrow: the shim, the plugin
 * contract, timeouts, cancel, crashes and misbehaving guests.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { silentLogger } from '../../services/common/logger';
import { runBridge } from '../../services/worker/bridge/bridge-host';
import type { BridgeOutcome, BridgeRunSpec, BridgeSink, GuestEvent } from '../../services/worker/bridge/types';
import { groupRunning } from '../../services/worker/bridge/process-group';
import { REPO_ROOT, pyarrowPython } from '../helpers/python-env';

const SHIM = path.join(REPO_ROOT, 'bridge_py', 'bridge_shim.py');

class CollectingSink implements BridgeSink {
  readonly events: GuestEvent[] = [];
  constructor(private readonly hook?: (e: GuestEvent) => void | Promise<void>) {}
  onEvent(e: GuestEvent): void | Promise<void> {
    this.events.push(e);
    return this.hook?.(e);
  }
  /** The concatenated ARROW bytes of one output: a complete IPC stream. */
  bytes(name: string): Buffer {
    return Buffer.concat(this.events.flatMap((e) => (e.kind === 'arrow' && e.name === name ? [e.bytes] : [])));
  }
  logs(): string[] {
    return this.events.flatMap((e) => (e.kind === 'log' ? [e.message] : []));
  }
}

/** No such process, or only a zombie waiting for PID 1 to reap it (not running). */
function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('bridge host (real python)', function () {
  this.timeout(180_000);
  let python: string;
  let work: string;
  let csvPath: string;

  before(async () => {
    python = await pyarrowPython();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-host-test-'));
    csvPath = path.join(work, 'input.csv');
    fs.writeFileSync(csvPath, 'id,name,score\n1,ada,9.5\n2,grace,8.25\n3,linus,7\n');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  function spec(source: string, over: Partial<BridgeRunSpec> = {}): BridgeRunSpec {
    return {
      python,
      shimPath: SHIM,
      jobId: 'job-1',
      attempt: 1,
      pluginName: 'test_plugin',
      pluginVersion: '1.0.0',
      source,
      inputPath: csvPath,
      timeouts: { connectMs: 20_000, idleMs: 20_000, totalMs: 60_000, killGraceMs: 1_000 },
      ...over,
    };
  }

  /** A stand-in shim: a small Python script that speaks (or breaks) the protocol. */
  function fakeShim(name: string, body: string): string {
    const file = path.join(work, `${name}.py`);
    const prelude = [
      'import json, os, socket, struct, sys, time',
      'sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
      'sock.connect(os.environ["CASPARIAN_BRIDGE_SOCKET"])',
      'TOKEN = os.environ["CASPARIAN_BRIDGE_TOKEN"]',
      'def frame(kind, payload): sock.sendall(struct.pack(">BI", kind, len(payload)) + payload)',
      'def jframe(kind, obj): frame(kind, json.dumps(obj).encode())',
      'def hello(token=None): jframe(0x10, {"token": token or TOKEN, "pid": os.getpid(), "python_version": "3", "pyarrow_version": None})',
      '',
    ].join('\n');
    fs.writeFileSync(file, prelude + body);
    return file;
  }

  async function run(source: string, sink = new CollectingSink(), over: Partial<BridgeRunSpec> = {}, signal?: AbortSignal) {
    const outcome = await runBridge(spec(source, over), sink, { logger: silentLogger, signal, hostEnv: process.env });
    return { outcome, sink };
  }

  function assertCleanedUp(outcome: BridgeOutcome): void {
    assert.ok(outcome.pid !== null, 'the guest was started');
    assert.ok(pidGone(outcome.pid!), `guest pid ${outcome.pid} is gone`);
    assert.equal(groupRunning(outcome.pid!), false, 'nothing of the guest process group is running');
  }

  it('streams a returned table to the default output', async () => {
    const { outcome, sink } = await run(`
import pyarrow.csv as csv
from casparian import log, progress
def parse(path):
    log("reading " + path)
    progress(fraction=1.0, message="read")
    return csv.read_csv(path)
`);
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    assert.deepEqual(outcome.outputs, [{ name: 'default', rows: 3, batches: 1 }]);
    assert.equal(outcome.exitCode, 0);
    const table = tableFromIPC(sink.bytes('default'));
    assert.equal(table.numRows, 3);
    assert.deepEqual(table.getChild('name')!.toArray(), ['ada', 'grace', 'linus']);
    assert.deepEqual([...table.getChild('score')!.toArray()], [9.5, 8.25, 7]);
    assert.deepEqual(sink.logs(), [`reading ${csvPath}`]);
    assert.ok(sink.events.some((e) => e.kind === 'progress' && e.fraction === 1 && e.message === 'read'));
    const kinds = sink.events.map((e) => e.kind).filter((k) => k !== 'arrow');
    assert.deepEqual(kinds, ['log', 'progress', 'output_begin', 'output_end', 'metrics']);
    assertCleanedUp(outcome);
  });

  it('streams a generator of 3 batches to 2 interleaved named outputs', async () => {
    const { outcome, sink } = await run(`
import pyarrow as pa
from casparian import Output
def parse(path):
    yield Output("even", pa.record_batch({"n": [0, 2], "tag": ["a", "b"]}))
    yield Output("odd", pa.table({"n": [1, 3, 5]}))
    yield Output("even", pa.record_batch({"n": [4], "tag": ["c"]}))
`);
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    assert.deepEqual(outcome.outputs, [
      { name: 'even', rows: 3, batches: 2 },
      { name: 'odd', rows: 3, batches: 1 },
    ]);
    const even = tableFromIPC(sink.bytes('even'));
    assert.deepEqual([...even.getChild('n')!.toArray()].map(Number), [0, 2, 4]);
    assert.deepEqual(even.getChild('tag')!.toArray(), ['a', 'b', 'c']);
    const odd = tableFromIPC(sink.bytes('odd'));
    assert.deepEqual([...odd.getChild('n')!.toArray()].map(Number), [1, 3, 5]);
    // output_begin once per name, output_end once per name, in order of appearance
    assert.deepEqual(
      sink.events.filter((e) => e.kind === 'output_begin' || e.kind === 'output_end').map((e) => `${e.kind}:${(e as { name: string }).name}`),
      ['output_begin:even', 'output_begin:odd', 'output_end:even', 'output_end:odd'],
    );
    // the first even batch reached the sink before the generator finished
    const firstOdd = sink.events.findIndex((e) => e.kind === 'arrow' && e.name === 'odd');
    assert.ok(sink.events.findIndex((e) => e.kind === 'arrow' && e.name === 'even') < firstOdd);
  });

  it('splits a large output into ARROW frames of at most 1 MiB', async () => {
    const { outcome, sink } = await run(`
import pyarrow as pa
def parse(path):
    return pa.table({"x": pa.array(range(1_000_000), type=pa.int64())})
`);
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    const arrows = sink.events.filter((e): e is Extract<GuestEvent, { kind: 'arrow' }> => e.kind === 'arrow');
    assert.ok(arrows.length >= 8, `${arrows.length} frames`);
    assert.ok(arrows.every((a) => a.bytes.length <= 1024 * 1024));
    const table = tableFromIPC(sink.bytes('default'));
    assert.equal(table.numRows, 1_000_000);
    assert.equal(Number(table.getChild('x')!.get(999_999)), 999_999);
  });

  it('reports a ValueError as a permanent plugin error with its traceback', async () => {
    const { outcome } = await run(`
def parse(path):
    raise ValueError("bad header in " + path)
`);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'permanent');
    assert.equal(outcome.error?.code, 'PLUGIN_ERROR');
    assert.equal(outcome.error?.retryable, false);
    assert.equal(outcome.error?.message, `ValueError: bad header in ${csvPath}`);
    assert.match(outcome.error!.traceback!, /ValueError/);
    assert.match(outcome.error!.traceback!, /<plugin:test_plugin>/);
    assert.match(outcome.error!.traceback!, /raise ValueError/, 'the traceback shows the plugin source line');
    assert.deepEqual(outcome.outputs, []);
    assertCleanedUp(outcome);
  });

  it('reports TransientError as retryable', async () => {
    const { outcome } = await run(`
from casparian import TransientError
def parse(path):
    raise TransientError("share is offline")
`);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'transient');
    assert.equal(outcome.error?.retryable, true);
    assert.match(outcome.error!.message, /share is offline/);
  });

  it('fails a generator that raises after streaming some batches', async () => {
    const { outcome, sink } = await run(`
import pyarrow as pa
from casparian import PermanentError
def parse(path):
    yield pa.record_batch({"n": [1]})
    raise PermanentError("line 2 is corrupt")
`);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'permanent');
    assert.match(outcome.error!.message, /^PermanentError: line 2 is corrupt$/);
    assert.ok(sink.events.some((e) => e.kind === 'arrow'), 'the first batch was streamed');
    assert.deepEqual(outcome.outputs, [], 'no output was ended');
  });

  it('survives 5 MB of prints, keeping a bounded tail', async () => {
    const { outcome, sink } = await run(`
import sys
import pyarrow as pa
def parse(path):
    line = "x" * 99 + "\\n"
    for i in range(50_000):
        sys.stdout.write(line)
    print("the end")
    print("to stderr", file=sys.stderr)
    return pa.table({"ok": [True]})
`);
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    assert.ok(outcome.stdoutTail.length <= 64 * 1024 + 100, `tail is ${outcome.stdoutTail.length} chars`);
    assert.match(outcome.stdoutTail, /earlier bytes dropped/);
    assert.match(outcome.stdoutTail, /the end\n$/);
    assert.match(outcome.stderrTail, /to stderr/);
    assert.equal(tableFromIPC(sink.bytes('default')).numRows, 1);
  });

  it("times out a guest that never connects (the bridge's fault, not the plugin's), and kills it", async () => {
    const sleeper = path.join(work, 'sleeper.py');
    fs.writeFileSync(sleeper, 'import time\ntime.sleep(60)\n');
    const started = Date.now();
    const { outcome } = await run('', undefined, {
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
    const { outcome } = await run(
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
    assert.ok(pidGone(childPid), 'the plugin subprocess was killed with the group');
  });

  it('enforces the idle timeout', async () => {
    const { outcome } = await run(
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
    const { outcome } = await run(
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
    const { outcome } = await run(
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
    const { outcome } = await run('def parse(path): pass', undefined, {}, ac.signal);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.pid, null);
  });

  it('hides the worker environment and the source from the guest', async () => {
    process.env.CASPARIAN_TEST_SECRET = 'hunter2-secret-value';
    try {
      const { outcome, sink } = await run(
        `
import os, sys
import pyarrow as pa
MARKER = "source-marker-" + "7f3a"
def parse(path):
    names = sorted(os.environ)
    joined = "\\n".join(names) + "\\n".join(os.environ.values()) + " ".join(sys.argv)
    return pa.table({
        "names": [",".join(names)],
        "secret_seen": ["hunter2" in joined],
        "marker_seen": [("source-marker-" + "7f3a") in joined or MARKER in open("/proc/self/cmdline").read()],
        "home": [os.environ.get("HOME", "")],
        "cwd": [os.getcwd()],
        "extra": [os.environ.get("CASPARIAN_EXTRA", "")],
    })
`,
        undefined,
        { extraEnv: { CASPARIAN_EXTRA: 'yes' } },
      );
      assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
      const row = tableFromIPC(sink.bytes('default')).get(0)!.toJSON();
      assert.equal(row.secret_seen, false);
      assert.equal(row.marker_seen, false);
      assert.equal(row.extra, 'yes');
      assert.equal(row.home, row.cwd, 'HOME is the private directory');
      assert.match(row.home as string, /casparian-bridge-/);
      const names = (row.names as string).split(',');
      assert.ok(!names.includes('CASPARIAN_TEST_SECRET'));
      assert.ok(!names.includes('CASPARIAN_BRIDGE_TOKEN'), 'the shim drops the token before running the plugin');
      assert.ok(fs.existsSync(row.home as string) === false, 'the private directory was removed');
    } finally {
      delete process.env.CASPARIAN_TEST_SECRET;
    }
  });

  it('reports a guest killed by a signal as a transient crash', async () => {
    const { outcome } = await run(`
import os, signal
def parse(path):
    print("about to die", flush=True)
    import sys; print("last words", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
`);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.code, 'GUEST_CRASHED');
    assert.equal(outcome.error?.errorClass, 'transient');
    assert.equal(outcome.error?.retryable, true);
    assert.match(outcome.error!.message, /SIGKILL/);
    assert.match(outcome.error!.message, /last words/);
    assert.equal(outcome.signal, 'SIGKILL');
  });

  it('reports a guest that exits without a verdict as a permanent crash', async () => {
    const { outcome } = await run(`
import os
def parse(path):
    os._exit(3)
`);
    assert.equal(outcome.error?.code, 'GUEST_CRASHED');
    assert.equal(outcome.error?.errorClass, 'permanent');
    assert.match(outcome.error!.message, /exited with code 3/);
    assert.equal(outcome.exitCode, 3);
  });

  it('reports a python that cannot be started as an env error', async () => {
    const { outcome } = await run('def parse(path): pass', undefined, { python: path.join(work, 'no-such-python') });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'env');
    assert.equal(outcome.pid, null);
  });

  describe('misbehaving guests', () => {
    async function runFake(name: string, body: string, over: Partial<BridgeRunSpec> = {}) {
      return run('', undefined, { shimPath: fakeShim(name, body), ...over });
    }

    function assertProtocol(outcome: BridgeOutcome, pattern: RegExp): void {
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.error?.errorClass, 'protocol');
      assert.equal(outcome.error?.code, 'GUEST_PROTOCOL');
      assert.equal(outcome.error?.retryable, false);
      assert.match(outcome.error!.message, pattern);
      assertCleanedUp(outcome);
    }

    it('garbage bytes', async () => {
      const { outcome } = await runFake('garbage', 'sock.sendall(b"\\xde\\xad\\xbe\\xef" * 64)\ntime.sleep(60)\n');
      assertProtocol(outcome, /unknown frame kind 0xde|exceeds/);
    });

    it('a wrong token', async () => {
      const { outcome } = await runFake('wrong_token', 'hello("0" * 64)\ntime.sleep(60)\n');
      assertProtocol(outcome, /wrong token/);
    });

    it('a first frame that is not HELLO', async () => {
      const { outcome } = await runFake('no_hello', 'jframe(0x14, {"level": "info", "message": "hi"})\ntime.sleep(60)\n');
      assertProtocol(outcome, /first frame must be HELLO/);
    });

    it('ARROW before OUTPUT_BEGIN', async () => {
      const { outcome } = await runFake('early_arrow', 'hello()\nframe(0x12, b"abcd")\ntime.sleep(60)\n');
      assertProtocol(outcome, /ARROW frame outside of an output/);
    });

    it('an oversized frame', async () => {
      const { outcome } = await runFake('oversized', 'hello()\nsock.sendall(struct.pack(">BI", 0x14, 5 * 1024 * 1024))\ntime.sleep(60)\n');
      assertProtocol(outcome, /exceeds the 4194304-byte frame limit/);
    });

    it('bad JSON', async () => {
      const { outcome } = await runFake('bad_json', 'hello()\nframe(0x14, b"{not json")\ntime.sleep(60)\n');
      assertProtocol(outcome, /not UTF-8 JSON/);
    });

    it('DONE with an output still open', async () => {
      const { outcome } = await runFake(
        'open_output',
        'hello()\njframe(0x11, {"name": "a"})\njframe(0x18, {"rows": 0, "outputs": []})\ntime.sleep(60)\n',
      );
      assertProtocol(outcome, /still open: a/);
    });

    it('hanging up without a verdict, then exiting', async () => {
      const { outcome } = await runFake('hang_up', 'hello()\nsock.close()\nsys.exit(0)\n');
      assert.equal(outcome.error?.code, 'GUEST_CRASHED');
      assert.match(outcome.error!.message, /exited with code 0 before DONE or ERROR/);
    });

    it('a fake guest that follows the protocol succeeds (the fakes are not rejected for being fakes)', async () => {
      const { outcome } = await runFake(
        'polite',
        [
          'hello()',
          'kind, n = struct.unpack(">BI", sock.recv(5, socket.MSG_WAITALL))',
          'spec = json.loads(sock.recv(n, socket.MSG_WAITALL))',
          'assert kind == 0x01 and spec["plugin_name"] == "test_plugin", spec',
          'jframe(0x16, {"x": 1.5})',
          'jframe(0x18, {"rows": 0, "outputs": []})',
          '',
        ].join('\n'),
      );
      assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
      assert.equal(outcome.exitCode, 0);
    });
  });
});
