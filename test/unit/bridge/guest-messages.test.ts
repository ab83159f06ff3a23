import assert from 'node:assert/strict';
import { FrameError } from '../../../services/worker/bridge/frames';
import {
  parseDone,
  parseGuestError,
  parseHello,
  parseLog,
  parseMetrics,
  parseOutputEnd,
  parseOutputName,
  parseProgress,
} from '../../../services/worker/bridge/guest-messages';

describe('bridge guest messages', () => {
  it('parses HELLO', () => {
    assert.deepEqual(parseHello({ token: 't', pid: 12, python_version: '3.11.7', pyarrow_version: '25.0.1' }), {
      token: 't',
      pid: 12,
      pythonVersion: '3.11.7',
      pyarrowVersion: '25.0.1',
    });
    assert.equal(parseHello({ token: 't', pid: 1, python_version: '3', pyarrow_version: null }).pyarrowVersion, null);
    assert.throws(() => parseHello({ token: 5, pid: 1, python_version: '3' }), FrameError);
    assert.throws(() => parseHello({ token: 't', pid: -1, python_version: '3' }), FrameError);
  });

  it('maps guest errors to JobErrors with the PLUGIN_ERROR code', () => {
    const e = parseGuestError({
      error_class: 'transient',
      code: 'SOMETHING_ELSE',
      type: 'TransientError',
      message: 'share offline',
      traceback: 'Traceback...',
      retryable: true,
    });
    assert.deepEqual(e, {
      errorClass: 'transient',
      code: 'PLUGIN_ERROR',
      message: 'TransientError: share offline',
      traceback: 'Traceback...',
      retryable: true,
    });
    assert.equal(parseGuestError({ error_class: 'permanent', type: 'ValueError', message: 'x' }).retryable, false);
    assert.equal(parseGuestError({ error_class: 'resource_limit', type: 'MemoryError', message: '' }).message, 'MemoryError');
  });

  it('gives resource_limit errors the RESOURCE_LIMIT code, whatever the guest claims', () => {
    const e = parseGuestError({
      error_class: 'resource_limit',
      code: 'PLUGIN_ERROR',
      type: 'MemoryError',
      message: 'memory limit of 512 MiB exceeded (RLIMIT_AS)',
      retryable: false,
    });
    assert.deepEqual(
      { errorClass: e.errorClass, code: e.code, message: e.message, retryable: e.retryable },
      { errorClass: 'resource_limit', code: 'RESOURCE_LIMIT', message: 'MemoryError: memory limit of 512 MiB exceeded (RLIMIT_AS)', retryable: false },
    );
    assert.equal(parseGuestError({ error_class: 'permanent', code: 'RESOURCE_LIMIT', message: 'x' }).code, 'PLUGIN_ERROR');
  });

  it('refuses error classes a guest may not claim', () => {
    for (const c of ['timeout', 'cancelled', 'worker_lost', 'protocol', 'env', 'bogus']) {
      assert.throws(() => parseGuestError({ error_class: c, message: 'x' }), FrameError, c);
    }
    assert.throws(() => parseGuestError({ error_class: 'permanent', retryable: 'yes' }), FrameError);
  });

  it('validates output names and summaries', () => {
    assert.equal(parseOutputName({ name: 'rows' }, 'X'), 'rows');
    assert.throws(() => parseOutputName({ name: '' }, 'X'), FrameError);
    assert.throws(() => parseOutputName({ name: 'a'.repeat(129) }, 'X'), FrameError);
    assert.throws(() => parseOutputName({ name: 'a\nb' }, 'X'), FrameError);
    assert.deepEqual(parseOutputEnd({ name: 'a', rows: 3, batches: 1 }), { name: 'a', rows: 3, batches: 1 });
    assert.throws(() => parseOutputEnd({ name: 'a', rows: 1.5, batches: 1 }), FrameError);
    assert.deepEqual(parseDone({ rows: 3, outputs: [{ name: 'a', rows: 3, batches: 1 }] }), {
      rows: 3,
      outputs: [{ name: 'a', rows: 3, batches: 1 }],
    });
    assert.throws(() => parseDone({ rows: 3, outputs: 'a' }), FrameError);
  });

  it('validates log, progress and metrics', () => {
    assert.deepEqual(parseLog({ level: 'warn', message: 'm' }), { level: 'warn', message: 'm' });
    assert.throws(() => parseLog({ level: 'loud', message: 'm' }), FrameError);
    assert.deepEqual(parseProgress({ rows: 10, fraction: 0.5 }), { rows: 10, fraction: 0.5 });
    assert.deepEqual(parseProgress({ message: 'half' }), { message: 'half' });
    assert.throws(() => parseProgress({ fraction: 2 }), FrameError);
    assert.deepEqual(parseMetrics({ a: 1, b: 2.5 }), { a: 1, b: 2.5 });
    assert.throws(() => parseMetrics({ a: 'x' }), FrameError);
  });
});
