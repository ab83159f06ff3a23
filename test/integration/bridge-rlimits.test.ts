/**
 * Guest resource limits against a real Python with pyarrow: the limits travel
 * in JOB_SPEC, the shim applies them with setrlimit, and each breach comes
 * back as a typed resource_limit / RESOURCE_LIMIT error naming the limit.
 *
 * Memory figures: the shim's address space after importing pyarrow is about
 * 190 MiB (VmPeak ~250 MiB); reading a CSV with pyarrow's thread pool and
 * mimalloc takes it to ~620 MiB. 1024 MiB leaves the interpreter room to work
 * while an 8 GiB bytearray cannot fit.
 */
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import type { BridgeLimits } from '../../services/worker/bridge/types';
import { useBridgeHarness } from '../helpers/bridge-harness';

const NO_LIMITS: BridgeLimits = { memoryMb: 0, cpuSeconds: 0, openFiles: 0 };

describe('bridge resource limits (real python)', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-rlimits-test-', 'id,name\n1,ada\n2,grace\n3,linus\n');

  function run(source: string, limits: Partial<BridgeLimits>, totalMs = 60_000) {
    return h.run(source, undefined, {
      jobId: 'job-rlimits',
      pluginName: 'limited',
      timeouts: { connectMs: 20_000, idleMs: 30_000, totalMs, killGraceMs: 1_000 },
      limits: { ...NO_LIMITS, ...limits },
    });
  }

  it('fails a memory hog with resource_limit naming the memory limit', async () => {
    const { outcome } = await run(
      `
import pyarrow as pa
def parse(path):
    hog = bytearray(8 << 30)
    return pa.table({"n": [len(hog)]})
`,
      { memoryMb: 1024 },
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'resource_limit', JSON.stringify(outcome.error));
    assert.equal(outcome.error?.code, 'RESOURCE_LIMIT');
    assert.equal(outcome.error?.retryable, false);
    assert.match(outcome.error!.message, /^MemoryError: memory limit of 1024 MiB exceeded/);
    assert.match(outcome.error!.traceback!, /bytearray/);
  });

  it('kills a CPU spin at cpuSeconds=1 with resource_limit, not a timeout', async () => {
    const started = Date.now();
    const { outcome } = await run(
      `
def parse(path):
    n = 0
    while True:
        n += 1
`,
      { cpuSeconds: 1 },
      30_000,
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'resource_limit', JSON.stringify(outcome.error));
    assert.equal(outcome.error?.code, 'RESOURCE_LIMIT');
    assert.equal(outcome.signal, 'SIGXCPU');
    assert.match(outcome.error!.message, /CPU limit of 1 s/);
    assert.ok(Date.now() - started < 20_000, 'ended by the CPU limit well before the 30 s start-to-close timeout');
  });

  it('fails a plugin opening 200 files under openFiles=64 with resource_limit naming the limit', async () => {
    const { outcome } = await run(
      `
def parse(path):
    handles = [open(path, "rb") for _ in range(200)]
    raise AssertionError("opened %d files" % len(handles))
`,
      { openFiles: 64 },
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'resource_limit', JSON.stringify(outcome.error));
    assert.equal(outcome.error?.code, 'RESOURCE_LIMIT');
    assert.match(outcome.error!.message, /^OSError: open-files limit of 64 exceeded \(RLIMIT_NOFILE\)/);
  });

  it('runs a normal plugin under generous limits, with the limits in force in the guest', async () => {
    const { outcome, sink } = await run(
      `
import resource
import pyarrow as pa
import pyarrow.csv as csv
def parse(path):
    table = csv.read_csv(path)
    caps = [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NOFILE)]
    return table.append_column("caps", pa.array([caps[0], caps[1], caps[2]], type=pa.int64()))
`,
      { memoryMb: 2048, cpuSeconds: 60, openFiles: 256 },
    );
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    assert.deepEqual(outcome.outputs, [{ name: 'default', rows: 3, batches: 1 }]);
    const table = tableFromIPC(sink.bytes('default'));
    assert.deepEqual(table.getChild('name')!.toArray(), ['ada', 'grace', 'linus']);
    const [as, cpu, nofile] = [...table.getChild('caps')!.toArray()].map(Number);
    assert.equal(as, 2048 * 1024 * 1024, 'RLIMIT_AS');
    assert.ok(cpu >= 60 && cpu <= 62, `RLIMIT_CPU soft ${cpu}: 60 s plus the interpreter's start-up CPU`);
    assert.equal(nofile, 256, 'RLIMIT_NOFILE');
  });

  it('refuses a memory limit the interpreter cannot even start under, clearly and without running the plugin', async () => {
    const { outcome } = await run(`def parse(path):\n    raise AssertionError("the plugin ran")\n`, { memoryMb: 32 });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'permanent');
    assert.match(outcome.error!.message, /^LimitSetupError: cannot apply the memory limit of 32 MiB \(RLIMIT_AS\)/);
  });
});
