/**
 * A Worker: holds a Dispatch stream to the Sentinel, runs up to `slots`
 * attempts at once, and serves its own gRPC service (Run, health, reflection).
 *
 *   created → running → draining → stopped
 *
 * shutdown(): health NOT_SERVING and no new work; running attempts get
 * `graceMs` to finish, then are cancelled and handed back to the Sentinel as
 * worker_lost (retryable). Idempotent.
 */
import * as grpc from '@grpc/grpc-js';
import * as os from 'node:os';
import * as path from 'node:path';
import type { WorkerConfig } from '../common/config';
import { channelOptions, startServer, type ManagedServer } from '../common/grpc-server';
import { JobErrors } from '../common/job-error';
import type { Logger } from '../common/logger';
import { VERSION } from '../common/version';
import { SentinelClient } from '../gen/casparian/v1/sentinel';
import { WorkerService } from '../gen/casparian/v1/worker';
import { runAttempt, type AttemptDeps } from './attempt/run-attempt';
import { sweepStaleBridgeDirs } from './bridge/bridge-dirs';
import type { AttemptResult } from './attempt/types';
import { EnvManager } from './envs/env-manager';
import type { EnvInfo } from './envs/types';
import { ConcludeClient } from './rpc/conclude-client';
import { DispatchClient } from './rpc/dispatch-client';
import { jobErrorToPb } from '../common/job-error-pb';
import { attemptSpecFromDispatch, envToPb, verdictStatus } from './rpc/mappers';
import { workerImplementation } from './rpc/run-service';
import type { AttemptRef, JobDispatch } from '../gen/casparian/v1/dispatch';

export const SHIM_PATH = path.resolve(__dirname, '..', '..', '..', 'bridge_py', 'bridge_shim.py');

export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

interface Running {
  ref: AttemptRef;
  abort: AbortController;
  /** Why the attempt was aborted: a user cancel, or a drain hand-back. */
  abortKind?: 'cancel' | 'handback';
  done: Promise<void>;
}

export class Worker {
  state: WorkerState = 'created';
  readonly envs: EnvManager;
  private readonly client: SentinelClient;
  private readonly dispatch: DispatchClient;
  private readonly running = new Map<string, Running>();
  private server: ManagedServer | undefined;
  private stopping: Promise<void> | undefined;
  private readonly deps: AttemptDeps;

  constructor(
    readonly cfg: Readonly<WorkerConfig>,
    readonly logger: Logger,
    hostEnv: Readonly<Record<string, string | undefined>>,
    opts: { envs?: EnvManager; shimPath?: string; credentials?: grpc.ChannelCredentials } = {},
  ) {
    this.logger = logger.scope({ service: 'worker', workerId: cfg.workerId });
    this.envs =
      opts.envs ??
      new EnvManager({
        home: cfg.home,
        mode: cfg.envMode,
        basePython: cfg.basePython,
        indexUrl: cfg.indexUrl,
        installTimeoutMs: cfg.installTimeoutMs,
        lockWaitTimeoutMs: cfg.installTimeoutMs + 60_000,
        failureCacheMs: 60_000,
        logger: this.logger.scope({ component: 'envs' }),
      }, { env: hostEnv });
    this.deps = { envs: this.envs, shimPath: opts.shimPath ?? SHIM_PATH, hostEnv, logger: this.logger };
    this.client = new SentinelClient(cfg.sentinel, opts.credentials ?? grpc.credentials.createInsecure(), channelOptions());
    this.dispatch = new DispatchClient(
      this.client,
      {
        hello: () => ({
          workerId: cfg.workerId,
          slots: cfg.slots,
          version: VERSION,
          envs: this.envs.inventory().map(envToPb),
          mayProvision: cfg.envMode === 'auto',
          envMode: cfg.envMode,
          hostname: os.hostname(),
        }),
        active: () => [...this.running.values()].map((r) => r.ref),
        onDispatch: (d) => this.onDispatch(d),
        onCancel: (ref, reason) => this.onCancel(ref, reason),
        onConnected: () => {},
      },
      this.logger,
      cfg.reconnectMaxMs,
    );
    this.envs.onChange((change) => {
      this.dispatch.send({ msg: { $case: 'envUpdate', envUpdate: { envs: this.envs.inventory().map(envToPb) } } });
      if (change.kind === 'added') this.collectEnvs();
    });
  }

  /** Verify envs, start the worker's own server (unless port is -1) and dial the Sentinel. */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`cannot start a Worker in state ${this.state}`);
    sweepStaleBridgeDirs(this.logger);
    const inv: EnvInfo[] = await this.envs.init();
    const broken = inv.filter((e) => e.status === 'broken');
    this.logger.info('environments checked', { ready: inv.length - broken.length, broken: broken.length });
    for (const b of broken) this.logger.warn('broken environment', { envHash: b.envHash, problem: b.problem });
    if (this.cfg.port >= 0) {
      this.server = await startServer({
        host: this.cfg.host,
        port: this.cfg.port,
        services: [{ name: 'casparian.v1.Worker', definition: WorkerService, impl: workerImplementation(this.deps, this.logger) }],
      });
      this.logger.info('worker service listening', { port: this.server.port });
    }
    this.state = 'running';
    this.dispatch.connect();
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  get activeCount(): number {
    return this.running.size;
  }

  /** Evict least recently used envs over the caps (never one in use); reported through EnvUpdate. */
  private collectEnvs(): void {
    this.envs.gc({ maxBytes: this.cfg.envMaxBytes, maxCount: this.cfg.envMaxCount }).then(
      (r) => r.evicted.length && this.logger.info('envs evicted over the caps', { count: r.evicted.length }),
      (err) => this.logger.warn('env gc failed', { error: String(err) }),
    );
  }

  private onDispatch(d: JobDispatch): void {
    const ref: AttemptRef = { jobId: d.jobId, attempt: d.attempt, leaseToken: d.leaseToken };
    const log = this.logger.scope({ jobId: d.jobId, attempt: d.attempt });
    if (this.running.has(d.jobId)) {
      log.warn('dispatch for a job already running here; ignored');
      return;
    }
    const abort = new AbortController();
    const entry: Running = { ref, abort, done: Promise.resolve() };
    this.running.set(d.jobId, entry);
    entry.done = this.execute(d, entry, log)
      .catch((err) => log.error('attempt crashed', { error: String(err?.stack ?? err) }))
      .finally(() => {
        this.running.delete(d.jobId);
        this.dispatch.send({
          msg: { $case: 'ready', ready: { freeSlots: Math.max(0, this.cfg.slots - this.running.size), draining: this.state !== 'running' } },
        });
      });
  }

  private async execute(d: JobDispatch, entry: Running, log: Logger): Promise<void> {
    let conclude: ConcludeClient;
    try {
      conclude = await ConcludeClient.open(this.client, entry.ref);
    } catch (err) {
      log.warn('sentinel refused the attempt', { error: (err as Error).message });
      return;
    }
    conclude.whenBroken((e) => {
      if (!entry.abort.signal.aborted) {
        log.warn('conclude stream broke; stopping the attempt', { error: e.message });
        entry.abort.abort();
      }
    });
    log.info('attempt started', { plugin: `${d.pluginName}@${d.pluginVersion}`, input: d.inputPath });
    const reporter = {
      log: (level: string, source: 'plugin' | 'env' | 'worker', message: string) =>
        conclude.send({ msg: { $case: 'log', log: { attempt: d.attempt, level, message, source, time: new Date() } } }),
      progress: (p: { rows: number; fraction: number; message: string }) => conclude.send({ msg: { $case: 'progress', progress: p } }),
      chunk: (outputName: string, data: Buffer) => conclude.send({ msg: { $case: 'chunk', chunk: { outputName, data } } }),
    };
    let result: AttemptResult;
    if (this.state !== 'running') entry.abortKind = 'handback';
    try {
      if (entry.abortKind === 'handback') entry.abort.abort();
      result = await runAttempt(attemptSpecFromDispatch(d), reporter, this.deps, entry.abort.signal);
    } catch (err) {
      result = {
        status: 'failed',
        error: JobErrors.internal(`worker error: ${(err as Error).message}`),
        metrics: { rows: 0, durationMs: 0, envMs: 0, envProvisioned: false, arrowBytes: 0 },
        outputs: [],
      };
    }
    if (result.status === 'cancelled' && entry.abortKind === 'handback') {
      result = {
        ...result,
        status: 'failed',
        error: JobErrors.workerLost(`worker ${this.cfg.workerId} shut down before the attempt finished`),
      };
    }
    try {
      const ack = await conclude.finish({ status: verdictStatus(result.status), error: result.error ? jobErrorToPb(result.error) : undefined, metrics: result.metrics });
      log.info('attempt concluded', { status: result.status, code: result.error?.code, jobState: ack.state, rows: result.metrics.rows });
    } catch (err) {
      log.warn('verdict not accepted', { error: (err as Error).message });
      conclude.cancel();
    }
  }

  private onCancel(ref: AttemptRef, reason: string): void {
    const r = this.running.get(ref.jobId);
    if (!r || r.ref.attempt !== ref.attempt || r.ref.leaseToken !== ref.leaseToken) return;
    this.logger.info('cancelling attempt', { jobId: ref.jobId, attempt: ref.attempt, reason });
    r.abortKind = 'cancel';
    r.abort.abort();
  }

  shutdown(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'draining';
      this.server?.setServing(false);
      this.dispatch.send({ msg: { $case: 'ready', ready: { freeSlots: 0, draining: true } } });
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
        this.logger.warn('grace period over; handing running attempts back', { count: this.running.size });
        for (const r of this.running.values()) {
          r.abortKind = 'handback';
          r.abort.abort();
        }
        await all;
      }
      this.dispatch.close();
      await this.server?.shutdown(2_000);
      this.client.close();
      this.state = 'stopped';
      this.logger.info('worker stopped');
    })();
    return this.stopping;
  }
}
