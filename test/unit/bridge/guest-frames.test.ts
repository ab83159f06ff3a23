import assert from 'node:assert/strict';
import { FrameError, FrameKind, decodeJsonPayload, type Frame } from '../../../services/worker/bridge/frames';
import { interpretFrame } from '../../../services/worker/bridge/guest-frames';
import { checkHello, jobSpecFrame } from '../../../services/worker/bridge/handshake';
import { OutputTracker } from '../../../services/worker/bridge/output-tracker';

const json = (kind: number, value: unknown): Frame => ({ kind, payload: Buffer.from(JSON.stringify(value)) });

describe('bridge guest frames and handshake', () => {
  it('turns an output conversation into events, a continuation into nothing, and DONE into the verdict', () => {
    const t = new OutputTracker();
    assert.deepEqual(interpretFrame(json(FrameKind.OUTPUT_BEGIN, { name: 'a' }), t), { kind: 'event', event: { kind: 'output_begin', name: 'a' } });
    const bytes = Buffer.from([1, 2, 3]);
    assert.deepEqual(interpretFrame({ kind: FrameKind.ARROW, payload: bytes }, t), { kind: 'event', event: { kind: 'arrow', name: 'a', bytes } });
    interpretFrame(json(FrameKind.OUTPUT_BEGIN, { name: 'b' }), t);
    assert.deepEqual(interpretFrame(json(FrameKind.OUTPUT_BEGIN, { name: 'a' }), t), { kind: 'nothing' });
    assert.deepEqual(interpretFrame(json(FrameKind.OUTPUT_END, { name: 'a', rows: 2, batches: 1 }), t), {
      kind: 'event',
      event: { kind: 'output_end', name: 'a', rows: 2, batches: 1 },
    });
    interpretFrame(json(FrameKind.OUTPUT_END, { name: 'b', rows: 0, batches: 0 }), t);
    const done = { rows: 2, outputs: [{ name: 'a', rows: 2, batches: 1 }, { name: 'b', rows: 0, batches: 0 }] };
    assert.deepEqual(interpretFrame(json(FrameKind.DONE, done), t), { kind: 'done' });
  });

  it('maps an ERROR frame to the plugin error it reports', () => {
    const m = interpretFrame(json(FrameKind.ERROR, { error_class: 'permanent', type: 'ValueError', message: 'bad row' }), new OutputTracker());
    assert.equal(m.kind, 'error');
    assert.equal(m.kind === 'error' && m.error.code, 'PLUGIN_ERROR');
    assert.equal(m.kind === 'error' && m.error.message, 'ValueError: bad row');
  });

  it('rejects a second HELLO and protocol violations with FrameError', () => {
    const t = new OutputTracker();
    assert.throws(() => interpretFrame(json(FrameKind.HELLO, {}), t), /HELLO sent twice/);
    assert.throws(() => interpretFrame({ kind: FrameKind.ARROW, payload: Buffer.alloc(1) }, t), FrameError);
    assert.throws(() => interpretFrame(json(FrameKind.LOG, { level: 'loud', message: 'x' }), t), FrameError);
  });

  it('accepts only a HELLO with the run token', () => {
    const hello = { token: 'secret-token', pid: 42, python_version: '3.11', pyarrow_version: null };
    assert.equal(checkHello(json(FrameKind.HELLO, hello), 'secret-token').pid, 42);
    assert.throws(() => checkHello(json(FrameKind.HELLO, { ...hello, token: 'secret-tokex' }), 'secret-token'), /wrong token/);
    assert.throws(() => checkHello(json(FrameKind.HELLO, { ...hello, token: 'short' }), 'secret-token'), /wrong token/);
    assert.throws(() => checkHello(json(FrameKind.LOG, { level: 'info', message: 'hi' }), 'secret-token'), /first frame must be HELLO, got LOG/);
  });

  it('sends the source and limits in JOB_SPEC', () => {
    const frame = jobSpecFrame({
      python: '/p',
      shimPath: '/s',
      jobId: 'j',
      attempt: 2,
      pluginName: 'p',
      pluginVersion: '1',
      source: 'def parse(path): pass',
      inputPath: '/in',
      timeouts: { connectMs: 1, idleMs: 1, totalMs: 1, killGraceMs: 1 },
      limits: { memoryMb: 512, cpuSeconds: 0, openFiles: 64 },
    });
    assert.equal(frame[0], FrameKind.JOB_SPEC);
    const body = decodeJsonPayload({ kind: frame[0], payload: frame.subarray(5) });
    assert.deepEqual(body, {
      job_id: 'j',
      attempt: 2,
      plugin_name: 'p',
      plugin_version: '1',
      source: 'def parse(path): pass',
      input_path: '/in',
      limits: { memory_mb: 512, cpu_seconds: 0, open_files: 64 },
    });
  });
});
