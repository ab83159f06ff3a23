import assert from 'node:assert/strict';
import { countsTowardBreaker } from '../../../services/common/job-error';
import { crashError } from '../../../services/worker/bridge/crash-error';

describe('crashError (a guest that exited without a verdict)', () => {
  const limits = { memoryMb: 0, cpuSeconds: 2, openFiles: 0 };

  it('maps death by SIGXCPU to resource_limit naming the CPU limit', () => {
    const e = crashError({ code: null, signal: 'SIGXCPU', running: true, stderr: '', limits });
    assert.equal(e.errorClass, 'resource_limit');
    assert.equal(e.code, 'RESOURCE_LIMIT');
    assert.equal(e.retryable, false);
    assert.match(e.message, /CPU limit of 2 s/);
    assert.match(e.message, /SIGXCPU/);
  });

  it('maps SIGXCPU to resource_limit even when the run set no CPU limit (an inherited rlimit)', () => {
    const e = crashError({ code: null, signal: 'SIGXCPU', running: true, stderr: '' });
    assert.equal(e.code, 'RESOURCE_LIMIT');
    assert.match(e.message, /its CPU time limit/);
  });

  it('maps an exit status of 128 + SIGXCPU under a CPU limit to resource_limit', () => {
    const e = crashError({ code: 152, signal: null, running: true, stderr: 'CPU time limit exceeded\n', limits });
    assert.equal(e.code, 'RESOURCE_LIMIT');
    assert.match(e.message, /exited with code 152 \(SIGXCPU\)/);
    // Without a CPU limit, 152 is just an exit code.
    assert.equal(crashError({ code: 152, signal: null, running: true, stderr: '' }).code, 'GUEST_CRASHED');
  });

  it('keeps other signals transient and exit codes permanent while the plugin runs', () => {
    const seg = crashError({ code: null, signal: 'SIGSEGV', running: true, stderr: 'boom\nSegmentation fault\n' });
    assert.deepEqual(
      { errorClass: seg.errorClass, code: seg.code, retryable: seg.retryable },
      { errorClass: 'transient', code: 'GUEST_CRASHED', retryable: true },
    );
    assert.equal(seg.message, 'guest was killed by SIGSEGV before DONE or ERROR: Segmentation fault');
    const exit = crashError({ code: 3, signal: null, running: true, stderr: '' });
    assert.deepEqual(
      { errorClass: exit.errorClass, code: exit.code, message: exit.message, retryable: exit.retryable },
      { errorClass: 'permanent', code: 'GUEST_CRASHED', message: 'guest exited with code 3 before DONE or ERROR', retryable: false },
    );
    assert.equal(countsTowardBreaker(exit), true);
  });

  it('blames a guest that died before the handshake on its environment, not the plugin', () => {
    for (const c of [
      { code: 3, signal: null },
      { code: null, signal: 'SIGKILL' as const },
      { code: null, signal: 'SIGXCPU' as const },
    ]) {
      const e = crashError({ ...c, running: false, stderr: 'ImportError: libfoo.so\n', limits });
      assert.deepEqual(
        { errorClass: e.errorClass, code: e.code, retryable: e.retryable },
        { errorClass: 'transient', code: 'GUEST_START_FAILED', retryable: true },
      );
      assert.match(e.message, /before the bridge handshake: ImportError: libfoo.so$/);
      assert.equal(countsTowardBreaker(e), false);
    }
  });

  it('mentions a memory limit when native code aborts under one', () => {
    const e = crashError({ code: null, signal: 'SIGABRT', running: true, stderr: '', limits: { memoryMb: 600, cpuSeconds: 0, openFiles: 0 } });
    assert.equal(e.code, 'GUEST_CRASHED');
    assert.match(e.message, /memory limit of 600 MiB was in force/);
  });
});
