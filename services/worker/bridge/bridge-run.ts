/**
 * One guest run: the state machine behind runBridge (see bridge-host.ts for
 * the picture). Its state moves only through `lifecycle` (RUN_TRANSITIONS).
 * Invariants:
 *  - exactly one verdict is taken (`decide`); everything after it only cleans up;
 *  - the outcome is resolved only after the guest has exited, its process
 *    group is gone (or reported stuck), and the server is closed;
 *  - frames are handled strictly in order, one chunk at a time; the socket is
 *    paused while the sink digests them.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { JobErrors, JobFailure, type JobError } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { StateMachine, type Transitions } from '../../common/state-machine';
import { crashError } from './crash-error';
import { DEFAULT_MAX_FRAME_PAYLOAD, FrameError, FrameKind, FrameReader, GUEST_KINDS, encodeJsonFrame, frameKindName, type Frame } from './frames';
import { buildGuestEnv } from './guest-env';
import { interpretFrame } from './guest-frames';
import type { GuestHandle, LaunchGuest } from './guest-handle';
import { settledWithin } from './guest-process';
import { checkHello, jobSpecFrame } from './handshake';
import { OutputTracker } from './output-tracker';
import { listenPrivate, writeDrained } from './bridge-socket';
import type { BridgeOutcome, BridgeRunSpec, BridgeSink, GuestEvent } from './types';

export type RunState = 'listening' | 'awaiting_hello' | 'running' | 'closing' | 'closed';

/**
 * Every run ends through `closing` (entered once, when the verdict is taken)
 * and `closed` (the outcome is resolved). A verdict can come in any live
 * state: a cancel or a start failure while still listening, a spawn error
 * (the guest never got a pid), a connect timeout or a bad HELLO while
 * awaiting it, anything at all while running.
 */
export const RUN_TRANSITIONS: Transitions<RunState> = {
  listening: ['awaiting_hello', 'closing'],
  awaiting_hello: ['running', 'closing'],
  running: ['closing'],
  closing: ['closed'],
  closed: [],
};

interface Verdict {
  status: BridgeOutcome['status'];
  error?: JobError;
  /** The guest sent DONE/ERROR and is expected to exit on its own. */
  graceful: boolean;
}

export interface BridgeRunInit {
  spec: BridgeRunSpec;
  sink: BridgeSink;
  logger: Logger;
  signal?: AbortSignal;
  privateDir: string;
  token: string;
  /** The worker's environment; only its allow-listed names reach the guest. */
  hostEnv: Readonly<NodeJS.ProcessEnv>;
  /** How the guest process is started (the isolation level): spawned, or forked by a fork server. */
  launch: LaunchGuest;
}

export class BridgeRun {
  private readonly lifecycle: StateMachine<RunState>;
  private readonly spec: BridgeRunSpec;
  private readonly log: Logger;
  private readonly socketPath: string;
  private readonly started = Date.now();
  private readonly reader: FrameReader;
  private readonly outputs = new OutputTracker();

  private server?: net.Server;
  private socket?: net.Socket;
  private guest?: GuestHandle;
  private socketEnded = false;
  private exitHandled = false;
  private starting: Promise<void> = Promise.resolve();
  /** Frame handling in progress; crash detection waits for it. */
  private chain: Promise<void> = Promise.resolve();

  private connectTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private totalTimer?: NodeJS.Timeout;
  private orphanTimer?: NodeJS.Timeout;

  private verdict?: Verdict;
  private resolve!: (o: BridgeOutcome) => void;
  private readonly onAbort = () => this.cancel();

  constructor(private readonly init: BridgeRunInit) {
    this.spec = init.spec;
    this.log = init.logger;
    this.lifecycle = new StateMachine<RunState>('BridgeRun', 'listening', RUN_TRANSITIONS, init.logger);
    this.socketPath = path.join(init.privateDir, 'bridge.sock');
    this.reader = new FrameReader(init.spec.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD);
  }

  run(): Promise<BridgeOutcome> {
    return new Promise<BridgeOutcome>((resolve) => {
      this.resolve = resolve;
      this.init.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.starting = this.start();
      // Frames are handled only once the guest's handle is known: a forked guest may connect
      // before the fork server's answer (its pid) has reached the worker.
      this.chain = this.starting.catch(() => undefined);
      this.starting.catch((e: Error) => {
        this.fail(e instanceof JobFailure ? e.jobError : JobErrors.internal(`bridge failed to start: ${e.message}`));
      });
    });
  }

  // --- start -----------------------------------------------------------------

  private async start(): Promise<void> {
    this.server = await listenPrivate(
      this.socketPath,
      (sock) => this.onConnection(sock),
      (e) => this.log.warn('bridge server error', { error: e.message }),
    );
    if (this.verdict) return; // cancelled while listening

    const env = buildGuestEnv({
      base: this.init.hostEnv,
      privateDir: this.init.privateDir,
      socketPath: this.socketPath,
      token: this.init.token,
      python: this.spec.python,
      extraEnv: this.spec.extraEnv,
      traceparent: this.spec.traceparent,
    });
    const guest = await this.init.launch({
      python: this.spec.python,
      shimPath: this.spec.shimPath,
      cwd: this.init.privateDir,
      env,
      onExit: () => this.onExit(),
      onSpawnError: (e) =>
        this.fail(JobErrors.envMissing(`cannot start ${this.spec.python}: ${e.message}`)),
      onLost: (reason) => this.fail(JobErrors.workerLost(reason)),
      onOtherError: (e) => this.log.warn('guest process error', { error: e.message }),
    });
    this.guest = guest;
    if (this.verdict) return; // cancelled (or lost) while the guest was being started: close() ends it
    if (guest.exit) this.onExit(); // it exited before its handle reached us
    if (guest.pid !== undefined) {
      this.lifecycle.to('awaiting_hello');
      this.log.debug('guest spawned', { pid: guest.pid });
    }
    const t = this.spec.timeouts;
    this.connectTimer = setTimeout(() => this.fail(JobErrors.guestStartFailed(`guest connect timeout: no HELLO within ${t.connectMs} ms`)), t.connectMs);
    this.totalTimer = setTimeout(() => this.fail(JobErrors.timeout('start_to_close', t.totalMs)), t.totalMs);
  }

  // --- socket ----------------------------------------------------------------

  private onConnection(sock: net.Socket): void {
    if (this.socket || this.verdict) {
      this.log.warn('refusing an extra connection on the bridge socket');
      sock.destroy();
      return;
    }
    this.socket = sock;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('end', () => this.onSocketEnd());
    sock.on('close', () => this.onSocketEnd());
    sock.on('error', (e) => this.log.debug('bridge socket error', { error: e.message }));
  }

  private onData(chunk: Buffer): void {
    if (this.verdict) return;
    clearTimeout(this.idleTimer);
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      this.protocolError((e as Error).message);
      return;
    }
    if (frames.length === 0) {
      this.armIdle();
      return;
    }
    const sock = this.socket!;
    sock.pause();
    this.chain = this.chain
      .then(() => this.handleFrames(frames))
      .then(() => {
        if (!this.verdict) {
          this.armIdle();
          sock.resume();
        }
      });
  }

  private onSocketEnd(): void {
    if (this.socketEnded) return;
    this.socketEnded = true;
    if (this.verdict) return;
    void this.chain.then(() => {
      if (this.verdict) return;
      if (this.guest?.exit) {
        this.crashed();
      } else {
        // The guest hung up without a verdict but is still running.
        this.orphanTimer = setTimeout(() => {
          if (!this.verdict) this.protocolError('guest closed the bridge socket without DONE or ERROR');
        }, this.spec.timeouts.killGraceMs);
      }
    });
  }

  private async handleFrames(frames: Frame[]): Promise<void> {
    for (const frame of frames) {
      if (this.verdict) return;
      try {
        await this.handleFrame(frame);
      } catch (e) {
        if (e instanceof FrameError) this.protocolError(e.message);
        else this.fail(JobErrors.internal(`bridge sink failed: ${(e as Error).message}`));
        return;
      }
    }
  }

  private async handleFrame(frame: Frame): Promise<void> {
    if (!GUEST_KINDS.has(frame.kind)) throw new FrameError(`unknown frame kind ${frameKindName(frame.kind)}`);
    if (this.lifecycle.is('awaiting_hello')) return this.onHello(frame);
    const meaning = interpretFrame(frame, this.outputs);
    switch (meaning.kind) {
      case 'event':
        return this.emit(meaning.event);
      case 'error':
        this.log.info('guest reported an error', { errorClass: meaning.error.errorClass, message: meaning.error.message });
        return this.decide({ status: 'failed', error: meaning.error, graceful: true });
      case 'done':
        return this.decide({ status: 'succeeded', graceful: true });
    }
  }

  private async onHello(frame: Frame): Promise<void> {
    const hello = checkHello(frame, this.init.token);
    clearTimeout(this.connectTimer);
    this.lifecycle.to('running');
    this.log.debug('guest connected', { guestPid: hello.pid, python: hello.pythonVersion, pyarrow: hello.pyarrowVersion });
    // A guest that vanished meanwhile is handled by the exit path.
    await writeDrained(this.socket, jobSpecFrame(this.spec)).catch((e: Error) => this.log.debug('could not send JOB_SPEC', { error: e.message }));
  }

  private async emit(e: GuestEvent): Promise<void> {
    const r = this.init.sink.onEvent(e);
    if (r && typeof (r as Promise<void>).then === 'function') await r;
  }

  // --- timers and failures ---------------------------------------------------

  /** Idle time counts only while the host is waiting for the guest, not while the sink holds the stream. */
  private armIdle(): void {
    if (!this.lifecycle.is('running') || this.verdict) return;
    clearTimeout(this.idleTimer);
    const ms = this.spec.timeouts.idleMs;
    this.idleTimer = setTimeout(() => this.fail(JobErrors.timeout('idle', ms)), ms);
  }

  /** A failure the host decides (a timeout): the guest is stopped. */
  private fail(error: JobError): void {
    this.decide({ status: 'failed', error, graceful: false });
  }

  private cancel(): void {
    const reason = this.init.signal?.reason;
    const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : '';
    if (this.socket && !this.socket.destroyed && this.lifecycle.is('running')) {
      this.socket.write(encodeJsonFrame(FrameKind.CANCEL, {})); // courtesy; the signals are what count
    }
    this.decide({
      status: 'cancelled',
      error: JobErrors.cancelled(why ? `job cancelled: ${why}` : 'job cancelled'),
      graceful: false,
    });
  }

  private protocolError(message: string): void {
    this.log.warn('guest broke the bridge protocol', { error: message });
    this.fail(JobErrors.guestProtocol(`guest protocol error: ${message}`));
  }

  private onExit(): void {
    if (!this.guest || this.exitHandled) return;
    this.exitHandled = true;
    this.log.debug('guest exited', { code: this.guest?.exit?.code, signal: this.guest?.exit?.signal });
    if (this.verdict) return;
    // Whatever the plugin left in the group would keep the socket open; it has no use now.
    void this.guest!.terminate(this.spec.timeouts.killGraceMs);
    // With a live connection, wait for its end: a DONE may still be unread.
    if (!this.socket || this.socketEnded) void this.chain.then(() => this.crashed());
  }

  /** The guest exited without DONE or ERROR: see crash-error.ts for how that is classified. */
  private crashed(): void {
    if (this.verdict) return;
    const guest = this.guest!;
    const exit = guest.exit!;
    const error = crashError({
      code: exit.code,
      signal: exit.signal,
      running: this.lifecycle.is('running'),
      stderr: guest.stderrTail.text(),
      limits: this.spec.limits,
    });
    this.fail(error);
  }

  // --- closing ---------------------------------------------------------------

  private decide(verdict: Verdict): void {
    if (this.verdict) return;
    this.verdict = verdict;
    this.lifecycle.to('closing');
    for (const t of [this.connectTimer, this.idleTimer, this.totalTimer, this.orphanTimer]) clearTimeout(t);
    this.init.signal?.removeEventListener('abort', this.onAbort);
    this.close().then(
      () => this.finish(),
      (e: Error) => {
        this.log.error('bridge cleanup failed', { error: e.message });
        this.finish();
      },
    );
  }

  private async close(): Promise<void> {
    await this.starting.catch(() => undefined); // never kill or close halfway through starting
    const { graceful } = this.verdict!;
    // After DONE/ERROR the guest expects the hang-up and exits on its own. Otherwise the
    // socket stays open until the group has been signalled: a hang-up alone makes the
    // shim exit by itself, and the outcome should show what really ended it.
    if (graceful) this.socket?.destroy();
    const guest = this.guest;
    if (guest && graceful && guest.release?.()) {
      this.log.debug('guest kept for the next job', { pid: guest.pid });
    } else if (guest) {
      const grace = this.spec.timeouts.killGraceMs;
      if (graceful && !guest.exit) await settledWithin(guest.exited, grace);
      const result = await guest.terminate(grace);
      if (result === 'stuck') this.log.error('guest process group survived SIGKILL', { pgid: guest.pid });
      else if (result === 'terminated' || result === 'killed') this.log.debug('guest process group ended', { how: result });
    }
    this.socket?.destroy();
    const server = this.server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private finish(): void {
    const v = this.verdict!;
    this.lifecycle.to('closed');
    const guest = this.guest;
    const outcome: BridgeOutcome = {
      status: v.status,
      error: v.error,
      outputs: this.outputs.summaries(),
      durationMs: Date.now() - this.started,
      pid: guest?.pid ?? null,
      exitCode: guest?.exit?.code ?? null,
      signal: guest?.exit?.signal ?? null,
      stdoutTail: guest?.stdoutTail.text() ?? '',
      stderrTail: guest?.stderrTail.text() ?? '',
    };
    this.log.info('guest run finished', {
      status: outcome.status,
      errorClass: outcome.error?.errorClass,
      durationMs: outcome.durationMs,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
    });
    this.resolve(outcome);
  }
}
