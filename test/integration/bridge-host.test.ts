/**
 * The bridge host against a real Python with pyarrow: the shim, the plugin
 * contract (outputs, typed errors), output tails and crashes.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import type { GuestEvent } from '../../services/worker/bridge/types';
import { assertCleanedUp, useBridgeHarness } from '../helpers/bridge-harness';

describe('bridge host (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-host-test-', 'id,name,score\n1,ada,9.5\n2,grace,8.25\n3,linus,7\n');

  it('streams a returned table to the default output', async () => {
    const { outcome, sink } = await h.run(`
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
    assert.deepEqual(sink.logs(), [`reading ${h.csvPath}`]);
    assert.ok(sink.events.some((e) => e.kind === 'progress' && e.fraction === 1 && e.message === 'read'));
    const kinds = sink.events.map((e) => e.kind).filter((k) => k !== 'arrow');
    assert.deepEqual(kinds, ['log', 'progress', 'output_begin', 'output_end', 'metrics']);
    assertCleanedUp(outcome);
  });

  it('streams a generator of 3 batches to 2 interleaved named outputs', async () => {
    const { outcome, sink } = await h.run(`
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
    const { outcome, sink } = await h.run(`
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
    const { outcome } = await h.run(`
def parse(path):
    raise ValueError("bad header in " + path)
`);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'permanent');
    assert.equal(outcome.error?.code, 'PLUGIN_ERROR');
    assert.equal(outcome.error?.retryable, false);
    assert.equal(outcome.error?.message, `ValueError: bad header in ${h.csvPath}`);
    assert.match(outcome.error!.traceback!, /ValueError/);
    assert.match(outcome.error!.traceback!, /<plugin:test_plugin>/);
    assert.match(outcome.error!.traceback!, /raise ValueError/, 'the traceback shows the plugin source line');
    assert.deepEqual(outcome.outputs, []);
    assertCleanedUp(outcome);
  });

  it('reports TransientError as retryable', async () => {
    const { outcome } = await h.run(`
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
    const { outcome, sink } = await h.run(`
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
    const { outcome, sink } = await h.run(`
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

  it('reports a guest killed by a signal as a transient crash', async () => {
    const { outcome } = await h.run(`
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
    const { outcome } = await h.run(`
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
    const { outcome } = await h.run('def parse(path): pass', undefined, { python: path.join(h.work, 'no-such-python') });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'env');
    assert.equal(outcome.pid, null);
  });

});
