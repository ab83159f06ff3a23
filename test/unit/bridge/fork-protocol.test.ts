/** The fork server's control frames as the worker reads them: typed messages, and FrameError for anything malformed. */
import { strict as assert } from 'node:assert';
import { ForkKind, forkFrame, parseServerFrame } from '../../../services/worker/bridge/fork-protocol';
import { FrameError, FrameReader, encodeFrame, encodeJsonFrame } from '../../../services/worker/bridge/frames';

const frame = (kind: number, value: Record<string, unknown>) => new FrameReader().push(encodeJsonFrame(kind, value))[0];

describe('unit: fork server control protocol', () => {
  it('reads READY, STARTED, FAILED, EXIT and output frames', () => {
    assert.deepEqual(parseServerFrame(frame(ForkKind.READY, { pid: 7, python_version: '3.11.7', pyarrow_version: null, threads: 1 })), {
      kind: 'ready',
      pid: 7,
      pythonVersion: '3.11.7',
      pyarrowVersion: null,
      threads: 1,
    });
    assert.deepEqual(parseServerFrame(frame(ForkKind.STARTED, { id: 3, pid: 42 })), { kind: 'started', id: 3, pid: 42 });
    assert.deepEqual(parseServerFrame(frame(ForkKind.FAILED, { id: 3, error: 'fork failed: EAGAIN' })), { kind: 'failed', id: 3, error: 'fork failed: EAGAIN' });
    assert.deepEqual(parseServerFrame(frame(ForkKind.EXIT, { pid: 42, code: 3, signal: null })), { kind: 'exit', pid: 42, code: 3, signal: null });
    assert.deepEqual(parseServerFrame(frame(ForkKind.EXIT, { pid: 42, code: null, signal: 'SIGKILL' })), { kind: 'exit', pid: 42, code: null, signal: 'SIGKILL' });
    const out = Buffer.concat([Buffer.from([0, 0, 0, 42]), Buffer.from('hello')]);
    const m = parseServerFrame(new FrameReader().push(encodeFrame(ForkKind.STDERR, out))[0]);
    assert.equal(m.kind, 'output');
    assert.ok(m.kind === 'output' && m.stream === 'stderr' && m.pid === 42 && m.bytes.toString() === 'hello');
  });

  it('refuses malformed frames', () => {
    const bad = [
      frame(ForkKind.EXIT, { pid: 42, code: 3, signal: 'SIGKILL' }),
      frame(ForkKind.EXIT, { pid: 42, code: null, signal: null }),
      frame(ForkKind.STARTED, { id: 3, pid: -1 }),
      frame(ForkKind.READY, { pid: 7 }),
      frame(0x99, {}),
      new FrameReader().push(encodeFrame(ForkKind.STDOUT, Buffer.from([1, 2])))[0],
      new FrameReader().push(encodeFrame(ForkKind.STARTED, Buffer.from('not json')))[0],
    ];
    for (const f of bad) assert.throws(() => parseServerFrame(f), FrameError, `kind 0x${f.kind.toString(16)} ${f.payload.toString()}`);
  });

  it('writes FORK requests the server reads', () => {
    const [f] = new FrameReader().push(forkFrame(5, { cwd: '/tmp/x', env: { A: '1' } }, true));
    assert.equal(f.kind, ForkKind.FORK);
    assert.deepEqual(JSON.parse(f.payload.toString()), { id: 5, cwd: '/tmp/x', env: { A: '1' }, reuse: true });
  });
});
