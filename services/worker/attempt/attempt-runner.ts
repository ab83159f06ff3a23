/**
 * AttemptRunner: one attempt on this worker, from dispatch to verdict. Both
 * the Dispatch path (worker.ts) and the debug Run RPC (rpc/run-service.ts)
 * use it; they differ only in the channel they hand it.
 *
 *   created ──run()──► opening ──channel open──► running ──► concluding ──► done
 *                         │                                                  ▲
 *                         └──────────── refused (no verdict is sent) ────────┘
 *
 *  - opening: OpenChannel gives the attempt's reporting channel: a Conclude
 *    call (header sent, lease acknowledged) or a Run response stream. A
 *    refusal ends the attempt without a verdict.
 *  - running: executeAttempt checks the input, acquires the env, starts the
 *    guest and forwards its events (Arrow re-chunked to ≤ 1 MiB) with the
 *    channel's backpressure. cancel(), handBack() and the channel breaking
 *    abort it through one AbortSignal. A worker that no longer accepts work
 *    when the channel opens hands the attempt back at once.
 *  - concluding: the verdict (SUCCEEDED, FAILED or CANCELLED) is sent and its
 *    acknowledgement awaited. A handed-back attempt is reported as FAILED /
 *    WORKER_LOST, so the Sentinel retries it elsewhere. A fault of the worker
 *    itself becomes FAILED / INTERNAL. A verdict that is not accepted
 *    abandons the channel (nothing of the attempt is committed).
 *
 * Isolation levels plug in at one seam, `deps.startGuest` (StartGuest in
 * types.ts): given the env (hash and interpreter), the plugin's isolation
 * choice and the job, start a guest, feed the BridgeSink and resolve with a
 * BridgeOutcome. The worker's implementation is isolated-guest.ts:
 *  - `spawn`: a fresh `{env}/bin/python bridge_shim.py` per attempt, in its
 *    own process group (runBridge);
 *  - `fork` (the default): the env's fork server, which has imported pyarrow
 *    and the shim, forks one child per attempt: still one process per attempt;
 *  - `reuse`: one long-lived guest per env and plugin version runs many
 *    attempts in turn (throughput over isolation).
 * Each yields the same events and outcome, so nothing else here changes.
 */
import { JobErrors } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { StateMachine, type Transitions } from '../../common/state-machine';
import { traceFields } from '../../common/trace-context';
import { executeAttempt, type AttemptDeps } from './execute-attempt';
import type { AttemptChannel, AttemptResult, AttemptSpec, OpenChannel, VerdictReceipt } from './types';

export type { AttemptDeps } from './execute-attempt';

export type AttemptRunnerState = 'created' | 'opening' | 'running' | 'concluding' | 'done';

const TRANSITIONS: Transitions<AttemptRunnerState> = {
  created: ['opening'],
  opening: ['running', 'done'],
  running: ['concluding'],
  concluding: ['done'],
  done: [],
};

/** How an attempt ended for its runner. */
export type AttemptEnd =
  /** The channel could not be opened (e.g. the Sentinel no longer grants the lease); no verdict was sent. */
  | { kind: 'refused'; error: Error }
  /** The verdict was sent and acknowledged. */
  | { kind: 'concluded'; result: AttemptResult; receipt: VerdictReceipt }
  /** The verdict could not be delivered or was refused; the channel was abandoned. */
  | { kind: 'unacknowledged'; result: AttemptResult; error: Error };

export interface AttemptRunnerOptions {
  /** Names the worker in the WORKER_LOST error of a hand-back. */
  workerId: string;
  /** Whether the worker still takes new work, asked once the channel is open; false hands the attempt back at once. Default: true. */
  accepting?: () => boolean;
}

export class AttemptRunner {
  private readonly lifecycle: StateMachine<AttemptRunnerState>;
  private readonly abort = new AbortController();
  /** Why the attempt was aborted: a user cancel, or a hand-back (the latest call wins). */
  private abortKind: 'cancel' | 'handback' | undefined;
  private readonly log: Logger;

  constructor(
    readonly spec: AttemptSpec,
    private readonly deps: AttemptDeps,
    private readonly opts: AttemptRunnerOptions,
  ) {
    this.log = deps.logger.scope({ jobId: spec.jobId, attempt: spec.attempt, ...traceFields(spec.traceparent) });
    this.lifecycle = new StateMachine<AttemptRunnerState>('AttemptRunner', 'created', TRANSITIONS, this.log);
  }

  get state(): AttemptRunnerState {
    return this.lifecycle.state;
  }

  /** A user's cancel: the guest is stopped and the verdict is CANCELLED. No effect once the verdict is taken. */
  cancel(): void {
    this.abortKind = 'cancel';
    this.abort.abort();
  }

  /** Drain: the guest is stopped and the attempt reported as WORKER_LOST, to be retried on another worker. */
  handBack(): void {
    this.abortKind = 'handback';
    this.abort.abort();
  }

  /** Runs the attempt to its end. Never rejects for anything the attempt meets; a second call rejects with IllegalStateError. */
  async run(open: OpenChannel): Promise<AttemptEnd> {
    this.lifecycle.to('opening');
    let channel: AttemptChannel;
    try {
      channel = await open();
    } catch (err) {
      this.log.warn('the attempt was refused', { error: (err as Error).message });
      this.lifecycle.to('done');
      return { kind: 'refused', error: err as Error };
    }
    this.lifecycle.to('running');
    channel.onBroken((e) => {
      if (!this.abort.signal.aborted) {
        this.log.warn('attempt channel broke; stopping the attempt', { error: e.message });
        this.abort.abort();
      }
    });
    this.log.info('attempt started', { plugin: `${this.spec.pluginName}@${this.spec.pluginVersion}`, input: this.spec.inputPath });
    const result = await this.execute(channel);
    this.lifecycle.to('concluding');
    try {
      const receipt = await channel.finish(result);
      this.log.info('attempt concluded', { status: result.status, code: result.error?.code, jobState: receipt.jobState, rows: result.metrics.rows });
      return { kind: 'concluded', result, receipt };
    } catch (err) {
      this.log.warn('verdict not accepted', { error: (err as Error).message });
      channel.abandon();
      return { kind: 'unacknowledged', result, error: err as Error };
    } finally {
      this.lifecycle.to('done');
    }
  }

  private async execute(channel: AttemptChannel): Promise<AttemptResult> {
    if (!(this.opts.accepting?.() ?? true)) this.abortKind = 'handback';
    let result: AttemptResult;
    try {
      if (this.abortKind === 'handback') this.abort.abort();
      result = await executeAttempt(this.spec, channel, this.deps, this.abort.signal);
    } catch (err) {
      result = {
        status: 'failed',
        error: JobErrors.internal(`worker error: ${(err as Error).message}`),
        metrics: { rows: 0, durationMs: 0, envMs: 0, envProvisioned: false, arrowBytes: 0 },
        outputs: [],
      };
    }
    if (result.status === 'cancelled' && this.abortKind === 'handback') {
      result = {
        ...result,
        status: 'failed',
        error: JobErrors.workerLost(`worker ${this.opts.workerId} shut down before the attempt finished`),
      };
    }
    return result;
  }
}
