/** The AttemptRunner against fakes: a fake guest start, a fake env source and a fake channel (no Python, no gRPC). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../../services/common/job-error';
import { silentLogger } from '../../../services/common/logger';
import { AttemptRunner, type AttemptDeps } from '../../../services/worker/attempt/attempt-runner';
import { MAX_CHUNK_BYTES } from '../../../services/worker/attempt/event-forwarder';
import type { AttemptChannel, AttemptResult, AttemptSpec, GuestStartRequest, StartGuest, VerdictReceipt } from '../../../services/worker/attempt/types';
import type { BridgeOutcome, BridgeSink } from '../../../services/worker/bridge/types';
import type { EnvLease } from '../../../services/worker/envs/types';

type Sent = { kind: 'log'; level: string; source: string; message: string } | { kind: 'progress'; rows: number } | { kind: 'chunk'; name: string; bytes: Buffer };

class FakeChannel implements AttemptChannel {
  readonly sent: Sent[] = [];
  verdict: AttemptResult | undefined;
  abandoned = false;
  private broken: Error | undefined;
  private brokenFn: ((e: Error) => void) | undefined;

  private accept(s: Sent): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    this.sent.push(s);
    return Promise.resolve();
  }
  log(level: string, source: 'plugin' | 'env' | 'worker', message: string): Promise<void> {
    return this.accept({ kind: 'log', level, source, message });
  }
  progress(p: { rows: number }): Promise<void> {
    return this.accept({ kind: 'progress', rows: p.rows });
  }
  chunk(name: string, bytes: Buffer): Promise<void> {
    return this.accept({ kind: 'chunk', name, bytes: Buffer.from(bytes) });
  }
  async finish(result: AttemptResult): Promise<VerdictReceipt> {
    if (this.broken) throw this.broken;
    this.verdict = result;
    return { jobState: 'JOB_STATE_SUCCEEDED' };
  }
  onBroken(fn: (e: Error) => void): void {
    this.brokenFn = fn;
  }
  abandon(): void {
    this.abandoned = true;
  }
  /** The receiver goes away (e.g. the Sentinel aborts the Conclude call). */
  breakNow(): void {
    this.broken = new Error('receiver went away');
    this.brokenFn?.(this.broken);
  }
  chunks(): Buffer[] {
    return this.sent.flatMap((s) => (s.kind === 'chunk' ? [s.bytes] : []));
  }
}

function outcome(status: BridgeOutcome['status'], over: Partial<BridgeOutcome> = {}): BridgeOutcome {
  return { status, outputs: [], durationMs: 1, pid: 4242, exitCode: 0, signal: null, stdoutTail: '', stderrTail: '', ...over };
}

/** A guest that runs `script` and records how it was started. */
function fakeGuest(script: (sink: BridgeSink, signal: AbortSignal) => Promise<BridgeOutcome>) {
  const starts: GuestStartRequest[] = [];
  const start: StartGuest = async (req, sink, opts) => {
    starts.push(req);
    return script(sink, opts.signal);
  };
  return { start, starts };
}

/** Resolves with a cancelled outcome once the signal is aborted (a guest that runs until stopped). */
function untilAborted(signal: AbortSignal): Promise<BridgeOutcome> {
  return new Promise((resolve) => {
    const stop = (): void => resolve(outcome('cancelled', { error: JobErrors.cancelled('job cancelled'), signal: 'SIGTERM', exitCode: null }));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

describe('unit: AttemptRunner', () => {
  let dir: string;
  let input: string;
  let leases: { acquired: number; released: number };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-runner-'));
    input = path.join(dir, 'input.csv');
    fs.writeFileSync(input, 'a\n1\n');
    leases = { acquired: 0, released: 0 };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function spec(over: Partial<AttemptSpec> = {}): AttemptSpec {
    return {
      jobId: 'job-1',
      attempt: 2,
      pluginName: 'p',
      pluginVersion: '1.0.0',
      source: 'def parse(path): pass',
      envHash: 'e'.repeat(64),
      lockfile: 'pyarrow==1\n',
      inputPath: input,
      timeouts: { guestConnectMs: 1000, idleMs: 2000, startToCloseMs: 3000, killGraceMs: 400 },
      envAllow: ['ALLOWED', 'UNSET'],
      limits: { memoryMb: 0, cpuSeconds: 0, openFiles: 0 },
      isolation: 'reuse',
      artifact: { artifactHash: '', manifestJson: '{}', signature: Buffer.alloc(0), signingKeyId: '' },
      ...over,
    };
  }

  function deps(start: StartGuest, acquire?: () => Promise<EnvLease>): AttemptDeps {
    const lease = (): EnvLease => {
      leases.acquired++;
      return { envHash: 'e'.repeat(64), python: '/envs/e/bin/python', provisioned: false, durationMs: 0, backend: 'uv', release: () => void leases.released++ };
    };
    return {
      envs: { acquire: acquire ?? (async () => lease()) },
      startGuest: start,
      hostEnv: { ALLOWED: 'yes', SECRET: 'no' },
      guestEnvAllow: ['ALLOWED', 'UNSET'],
      trust: { keys: new Map(), allowUnsigned: true },
      logger: silentLogger,
    };
  }

  it('forwards a run to the channel, re-chunking Arrow bytes to at most 1 MiB, and concludes SUCCEEDED', async () => {
    const big = Buffer.alloc(2 * MAX_CHUNK_BYTES + 1234);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const guest = fakeGuest(async (sink) => {
      await sink.onEvent({ kind: 'output_begin', name: 'default' });
      await sink.onEvent({ kind: 'arrow', name: 'default', bytes: big });
      await sink.onEvent({ kind: 'log', level: 'info', message: 'hello' });
      await sink.onEvent({ kind: 'progress', rows: 3, fraction: 0.5 });
      await sink.onEvent({ kind: 'output_end', name: 'default', rows: 3, batches: 1 });
      return outcome('succeeded', { outputs: [{ name: 'default', rows: 3, batches: 1 }] });
    });
    const channel = new FakeChannel();
    const end = await new AttemptRunner(spec(), deps(guest.start), { workerId: 'w1' }).run(async () => channel);

    assert.equal(end.kind, 'concluded');
    assert.deepEqual(
      channel.chunks().map((c) => c.length),
      [MAX_CHUNK_BYTES, MAX_CHUNK_BYTES, 1234],
    );
    assert.ok(Buffer.concat(channel.chunks()).equals(big), 'the chunks are the guest bytes, in order');
    assert.deepEqual(channel.sent.filter((s) => s.kind !== 'chunk'), [
      { kind: 'log', level: 'info', source: 'plugin', message: 'hello' },
      { kind: 'progress', rows: 3 },
    ]);
    assert.equal(channel.verdict?.status, 'succeeded');
    assert.equal(channel.verdict?.metrics.rows, 3);
    assert.equal(channel.verdict?.metrics.arrowBytes, big.length);
    assert.deepEqual(channel.verdict?.outputs, [{ name: 'default', rows: 3, batches: 1 }]);
    assert.equal(guest.starts.length, 1);
    const req = guest.starts[0];
    assert.equal(req.python, '/envs/e/bin/python');
    assert.equal(req.envHash, 'e'.repeat(64));
    assert.equal(req.isolation, 'reuse', "the plugin's isolation level reaches the guest start");
    assert.deepEqual(req.job.extraEnv, { ALLOWED: 'yes' }, 'only allowed variables that are set');
    assert.deepEqual(req.job.timeouts, { connectMs: 1000, idleMs: 2000, totalMs: 3000, killGraceMs: 400 });
    assert.deepEqual(leases, { acquired: 1, released: 1 });
    assert.equal(channel.abandoned, false);
  });

  it('reports a failed env acquire as its typed error, without starting a guest', async () => {
    const guest = fakeGuest(async () => outcome('succeeded'));
    const channel = new FakeChannel();
    const acquire = async (): Promise<EnvLease> => {
      throw new JobFailure(JobErrors.envMissing('env not on this worker'));
    };
    const end = await new AttemptRunner(spec(), deps(guest.start, acquire), { workerId: 'w1' }).run(async () => channel);
    assert.equal(end.kind, 'concluded');
    assert.equal(channel.verdict?.status, 'failed');
    assert.equal(channel.verdict?.error?.code, 'ENV_MISSING');
    assert.equal(channel.verdict?.error?.errorClass, 'env');
    assert.equal(guest.starts.length, 0);
  });

  it('fails an unsigned plugin on a worker that requires signatures as SIGNATURE_REQUIRED, before any env or guest', async () => {
    const guest = fakeGuest(async () => outcome('succeeded'));
    const channel = new FakeChannel();
    const strict = { ...deps(guest.start), trust: { keys: new Map(), allowUnsigned: false } };
    await new AttemptRunner(spec(), strict, { workerId: 'w1' }).run(async () => channel);
    assert.equal(channel.verdict?.error?.code, 'SIGNATURE_REQUIRED');
    assert.equal(channel.verdict?.error?.retryable, false);
    assert.deepEqual(leases, { acquired: 0, released: 0 }, 'no env acquired (nor provisioned)');
    assert.equal(guest.starts.length, 0, 'no guest started');
  });

  /** A runner whose guest has started and runs until the attempt is aborted. */
  async function runningUntilAborted() {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const guest = fakeGuest((_sink, signal) => {
      started();
      return untilAborted(signal);
    });
    const channel = new FakeChannel();
    const runner = new AttemptRunner(spec(), deps(guest.start), { workerId: 'w1' });
    const ended = runner.run(async () => channel);
    await running;
    return { runner, channel, ended };
  }

  it('cancel() stops the guest and concludes CANCELLED', async () => {
    const { runner, channel, ended } = await runningUntilAborted();
    runner.cancel();
    const end = await ended;
    assert.equal(end.kind, 'concluded');
    assert.equal(channel.verdict?.status, 'cancelled');
    assert.equal(channel.verdict?.error?.code, 'CANCELLED');
    assert.equal(runner.state, 'done');
    assert.deepEqual(leases, { acquired: 1, released: 1 });
  });

  it('handBack() on drain stops the guest and reports FAILED / WORKER_LOST (retryable), to be retried elsewhere', async () => {
    const { channel, runner, ended } = await runningUntilAborted();
    runner.handBack();
    await ended;
    assert.equal(channel.verdict?.status, 'failed');
    assert.equal(channel.verdict?.error?.code, 'WORKER_LOST');
    assert.equal(channel.verdict?.error?.errorClass, 'worker_lost');
    assert.equal(channel.verdict?.error?.retryable, true);
    assert.match(channel.verdict!.error!.message, /worker w1 shut down/);
  });

  it('hands an attempt back at once when the worker no longer accepts work as its channel opens', async () => {
    const seen: boolean[] = [];
    const guest = fakeGuest(async (_sink, signal) => {
      seen.push(signal.aborted);
      return untilAborted(signal);
    });
    const channel = new FakeChannel();
    await new AttemptRunner(spec(), deps(guest.start), { workerId: 'w1', accepting: () => false }).run(async () => channel);
    assert.deepEqual(seen, [true], 'the guest start sees an aborted signal');
    assert.equal(channel.verdict?.error?.code, 'WORKER_LOST');
  });

  it('aborts the attempt when the channel breaks mid-attempt, and abandons the channel', async () => {
    const channel = new FakeChannel();
    let aborted = false;
    const guest = fakeGuest(async (sink, signal) => {
      await sink.onEvent({ kind: 'output_begin', name: 'default' });
      await sink.onEvent({ kind: 'arrow', name: 'default', bytes: Buffer.alloc(10) });
      channel.breakNow();
      aborted = signal.aborted;
      await assert.rejects(Promise.resolve(sink.onEvent({ kind: 'arrow', name: 'default', bytes: Buffer.alloc(10) })), /receiver went away/);
      return untilAborted(signal);
    });
    const end = await new AttemptRunner(spec(), deps(guest.start), { workerId: 'w1' }).run(async () => channel);
    assert.equal(aborted, true, 'the guest was told to stop as soon as the channel broke');
    assert.equal(end.kind, 'unacknowledged');
    assert.equal(channel.verdict, undefined, 'no verdict went out on a broken channel');
    assert.equal(channel.abandoned, true);
    assert.deepEqual(leases, { acquired: 1, released: 1 });
  });

  it('does nothing when the channel is refused (no env, no guest, no verdict)', async () => {
    const guest = fakeGuest(async () => outcome('succeeded'));
    const end = await new AttemptRunner(spec(), deps(guest.start), { workerId: 'w1' }).run(async () => {
      throw new Error('lease is not current');
    });
    assert.equal(end.kind, 'refused');
    assert.equal(guest.starts.length, 0);
    assert.equal(leases.acquired, 0);
  });

  it('turns a fault of the worker itself into FAILED / INTERNAL, and a missing input into INPUT_MISSING', async () => {
    const broken = fakeGuest(async () => {
      throw new Error('mkdtemp failed');
    });
    const c1 = new FakeChannel();
    await new AttemptRunner(spec(), deps(broken.start), { workerId: 'w1' }).run(async () => c1);
    assert.equal(c1.verdict?.error?.code, 'INTERNAL');
    assert.match(c1.verdict!.error!.message, /worker error: mkdtemp failed/);
    assert.equal(leases.released, 1, 'the env lease is released on a fault too');

    const c2 = new FakeChannel();
    await new AttemptRunner(spec({ inputPath: path.join(dir, 'nope.csv') }), deps(broken.start), { workerId: 'w1' }).run(async () => c2);
    assert.equal(c2.verdict?.error?.code, 'INPUT_MISSING');
  });

  it('may run once', async () => {
    const runner = new AttemptRunner(spec(), deps(fakeGuest(async () => outcome('succeeded')).start), { workerId: 'w1' });
    await runner.run(async () => new FakeChannel());
    await assert.rejects(runner.run(async () => new FakeChannel()), /AttemptRunner cannot move to opening in state done/);
  });
});
