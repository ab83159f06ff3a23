/**
 * A Worker: holds a Dispatch stream to the Sentinel, runs up to `slots`
 * attempts at once (each by an AttemptRunner), keeps the env inventory, and
 * serves its own gRPC service (Run, health, reflection). Its state changes
 * only through WORKER_TRANSITIONS:
 *
 *   created ──start()──► starting ──► running ──shutdown()──► draining ──► stopped
 *   starting → created             start() failed (it may be called again)
 *   created, starting → draining   shutdown() before start() finished
 *
 * shutdown(): health NOT_SERVING and no new work; running attempts get
 * `graceMs` to finish, then are handed back to the Sentinel as worker_lost
 * (retryable). Idempotent. A shutdown() while start() is still under way
 * wins: start() stops there and leaves nothing running. A start() that
 * fails leaves the worker `created`, to be started again or shut down.
 */
import type * as grpc from '@grpc/grpc-js';
import * as os from 'node:os';
import type { AuthSettings, WorkerConfig } from '../common/config';
import { startServer, type ManagedServer } from '../common/grpc-server';
import { channelCredentials, serverCredentials } from '../common/tls';
import { authInterceptor } from '../common/auth/guard';
import { TokenStore } from '../common/auth/tokens';
import { WorkerMetrics } from './worker-metrics';
import { JobFailure } from '../common/job-error';
import type { Logger } from '../common/logger';
import { StateMachine, type Transitions } from '../common/state-machine';
import { VERSION } from '../common/version';
import { traceFields } from '../common/trace-context';
import { AttemptRunner, type AttemptDeps } from './attempt/attempt-runner';
import { SHIM_PATH, forkServerBeside, isolatedGuest } from './attempt/isolated-guest';
import type { AttemptRef, AttemptSpec, EnvSource, StartGuest } from './attempt/types';
import { sweepStaleBridgeDirs } from './bridge/bridge-dirs';
import { ForkServerPool } from './bridge/fork-pool';
import { EnvManager } from './envs/env-manager';
import type { EnvInfo } from './envs/types';
import { WORKER_SERVICE, workerService } from './rpc/run-service';
import { SentinelLink } from './rpc/sentinel-link';

export type WorkerState = 'created' | 'starting' | 'running' | 'draining' | 'stopped';

export const WORKER_TRANSITIONS: Transitions<WorkerState> = {
  created: ['starting', 'draining'],
  starting: ['running', 'created', 'draining'],
  running: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

interface Running {
  ref: AttemptRef;
  runner: AttemptRunner;
  done: Promise<void>;
}

export class Worker {
  readonly envs: EnvManager;
  /** This worker's fork servers (isolation fork and reuse), one per env, started on first use. */
  readonly forks: ForkServerPool;
  /** Prometheus metrics; served by the CLI when --metrics-port is set. */
  readonly metrics: WorkerMetrics;
  private readonly lifecycle: StateMachine<WorkerState>;
  private readonly link: SentinelLink;
  private readonly running = new Map<string, Running>();
  private server: ManagedServer | undefined;
  private stopping: Promise<void> | undefined;
  private readonly deps: AttemptDeps;

  constructor(
    readonly cfg: Readonly<WorkerConfig>,
    readonly logger: Logger,
    hostEnv: Readonly<Record<string, string | undefined>>,
    opts: {
      envs?: EnvManager;
      /** Another bridge shim; the fork server used is fork_server.py beside it. */
      shimPath?: string;
      /** Another fork server script (a test's broken one). */
      forkServerPath?: string;
      /** How guests are started; default: at the isolation level of the plugin, else of `cfg.isolation`. */
      startGuest?: StartGuest;
      credentials?: grpc.ChannelCredentials;
    } = {},
  ) {
    this.logger = logger.scope({ service: 'worker', workerId: cfg.workerId });
    this.lifecycle = new StateMachine<WorkerState>('Worker', 'created', WORKER_TRANSITIONS, this.logger);
    this.envs =
      opts.envs ??
      new EnvManager(
        {
          home: cfg.home,
          mode: cfg.envMode,
          basePython: cfg.basePython,
          indexUrl: cfg.indexUrl,
          installTimeoutMs: cfg.installTimeoutMs,
          installEnvAllow: cfg.installEnvAllow,
          lockWaitTimeoutMs: cfg.installTimeoutMs + 60_000,
          failureCacheMs: 60_000,
          logger: this.logger.scope({ component: 'envs' }),
        },
        { env: hostEnv },
      );
    this.metrics = new WorkerMetrics(cfg.slots, () => this.running.size);
    const shimPath = opts.shimPath ?? SHIM_PATH;
    this.forks = new ForkServerPool({
      script: opts.forkServerPath ?? forkServerBeside(shimPath),
      hostEnv,
      logger: this.logger,
      maxServers: cfg.forkServers,
      maxIdleGuests: cfg.slots,
    });
    this.deps = {
      envs: this.envSource(),
      startGuest: opts.startGuest ?? isolatedGuest({ isolation: cfg.isolation, shimPath, hostEnv, forks: this.forks }),
      hostEnv,
      guestEnvAllow: cfg.guestEnvAllow,
      trust: cfg.trust,
      inputRoots: cfg.inputRoots,
      observer: this.metrics.observer,
      logger: this.logger,
    };
    this.link = new SentinelLink({
      addresses: cfg.sentinels,
      credentials: opts.credentials ?? channelCredentials(cfg.tls),
      token: cfg.token,
      logger: this.logger,
      reconnectMaxMs: cfg.reconnectMaxMs,
      welcomeTimeoutMs: cfg.welcomeTimeoutMs,
      handlers: {
        hello: () => ({
          workerId: cfg.workerId,
          slots: cfg.slots,
          version: VERSION,
          envs: this.envs.inventory(),
          mayProvision: cfg.envMode === 'auto',
          envMode: cfg.envMode,
          hostname: os.hostname(),
        }),
        active: () => [...this.running.values()].map((r) => r.ref),
        onDispatch: (ref, spec) => this.onDispatch(ref, spec),
        onCancel: (ref, reason) => this.onCancel(ref, reason),
      },
    });
    this.envs.onChange((change) => {
      this.link.dispatch.envUpdate(this.envs.inventory());
      if (change.kind === 'added') this.collectEnvs();
      if (change.kind === 'evicted' || change.kind === 'broken') void this.forks.stopEnv(change.env.envHash);
    });
  }

  get state(): WorkerState {
    return this.lifecycle.state;
  }

  /** Verify envs, start the worker's own server (unless port is -1) and dial the Sentinel. */
  async start(): Promise<void> {
    this.lifecycle.require('start', 'created');
    this.lifecycle.to('starting');
    let server: ManagedServer | undefined;
    try {
      this.logTrust();
      sweepStaleBridgeDirs(this.logger);
      const inv: EnvInfo[] = await this.envs.init();
      const broken = inv.filter((e) => e.status === 'broken');
      this.logger.info('environments checked', { ready: inv.length - broken.length, broken: broken.length });
      for (const b of broken) this.logger.warn('broken environment', { envHash: b.envHash, problem: b.problem });
      if (this.cfg.port >= 0 && this.lifecycle.is('starting')) {
        server = await startServer({
          host: this.cfg.host,
          port: this.cfg.port,
          credentials: serverCredentials(this.cfg.tls, this.cfg.host, this.cfg.allowInsecure, 'the worker\'s server (--worker-port)'),
          interceptors: [this.metrics.interceptor, ...(this.cfg.auth ? [workerGuard(this.cfg.auth, this.logger)] : [])],
          services: [workerService(this.deps, this.cfg.workerId, this.logger)],
          startNotServing: [WORKER_SERVICE],
        });
      }
    } catch (err) {
      if (this.lifecycle.is('starting')) this.lifecycle.to('created');
      throw err;
    }
    if (!this.lifecycle.is('starting')) {
      await server?.shutdown(2_000); // shutdown() came first
      return;
    }
    if (server) {
      this.server = server;
      this.logger.info('worker service listening', { port: server.port });
    }
    this.lifecycle.to('running');
    this.link.dispatch.onStateChange(() => this.refreshHealth());
    this.link.dispatch.connect();
  }

  /** Says at start which plugins this worker will run; loudly when unsigned code is allowed. */
  private logTrust(): void {
    const keyIds = [...this.cfg.trust.keys.keys()];
    if (this.cfg.trust.allowUnsigned) {
      this.logger.warn('UNSIGNED PLUGINS ARE ALLOWED (--allow-unsigned): this worker runs plugin code nobody signed; development only', { trustedKeys: keyIds });
    } else if (keyIds.length === 0) {
      this.logger.warn('no trusted keys (--trusted-keys) and unsigned plugins are refused: every job here will fail as SIGNATURE_REQUIRED or SIGNATURE_INVALID');
    } else {
      this.logger.info('plugins must be signed by a trusted key', { trustedKeys: keyIds });
    }
  }

  /**
   * The health of casparian.v1.Worker: SERVING while this worker can take a
   * job now (running, connected to a Sentinel, a slot free); NOT_SERVING
   * while its Dispatch stream is down or moving to the next address. "" stays
   * SERVING until the worker drains, whatever the Sentinel does, so a
   * liveness probe on it does not restart workers when the Sentinel is away.
   */
  private refreshHealth(): void {
    const ready = this.lifecycle.is('running') && this.link.dispatch.state === 'connected' && this.running.size < this.cfg.slots;
    this.server?.setHealth(WORKER_SERVICE, ready);
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  get activeCount(): number {
    return this.running.size;
  }

  /** The env manager as attempts see it: an env found missing (strict mode) keeps no fork server. */
  private envSource(): EnvSource {
    return {
      acquire: async (envHash, lockfile, opts) => {
        try {
          return await this.envs.acquire(envHash, lockfile, opts);
        } catch (err) {
          if (err instanceof JobFailure && err.jobError.code === 'ENV_MISSING') await this.forks.stopEnv(envHash);
          throw err;
        }
      },
    };
  }

  /** Evict least recently used envs over the caps (never one in use; an env's fork server is stopped first); reported through EnvUpdate. */
  private collectEnvs(): void {
    this.envs.gc({ maxBytes: this.cfg.envMaxBytes, maxCount: this.cfg.envMaxCount, beforeEvict: (h) => this.forks.stopEnv(h) }).then(
      (r) => r.evicted.length && this.logger.info('envs evicted over the caps', { count: r.evicted.length }),
      (err) => this.logger.warn('env gc failed', { error: String(err) }),
    );
  }

  private onDispatch(ref: AttemptRef, spec: AttemptSpec): void {
    const log = this.logger.scope({ jobId: ref.jobId, attempt: ref.attempt, ...traceFields(spec.traceparent) });
    const key = attemptKey(ref);
    if (this.running.has(key)) {
      log.warn('dispatch for an attempt already running here; ignored');
      return;
    }
    const runner = new AttemptRunner(spec, this.deps, { workerId: this.cfg.workerId, accepting: () => this.lifecycle.is('running') });
    const entry: Running = { ref, runner, done: Promise.resolve() };
    this.running.set(key, entry);
    this.refreshHealth();
    entry.done = runner
      .run(() => this.link.openAttempt(ref))
      .then(
        () => undefined,
        (err) => log.error('attempt crashed', { error: String(err?.stack ?? err) }),
      )
      .finally(() => {
        this.running.delete(key);
        this.refreshHealth();
        this.link.dispatch.ready(Math.max(0, this.cfg.slots - this.running.size), !this.lifecycle.is('running'));
      });
  }

  private onCancel(ref: AttemptRef, reason: string): void {
    const r = this.running.get(attemptKey(ref));
    if (!r || r.ref.leaseToken !== ref.leaseToken) return;
    this.logger.info('cancelling attempt', { jobId: ref.jobId, attempt: ref.attempt, reason, ...traceFields(r.runner.spec.traceparent) });
    r.runner.cancel();
  }

  shutdown(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.lifecycle.to('draining');
      this.server?.setServing(false);
      this.link.dispatch.ready(0, true);
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
        this.logger.warn('grace period over; handing running attempts back', { count: this.running.size });
        for (const r of this.running.values()) r.runner.handBack();
        await all;
      }
      this.link.dispatch.close();
      await this.forks.close();
      await this.server?.shutdown(2_000);
      this.link.close();
      this.lifecycle.to('stopped');
      this.logger.info('worker stopped');
    })();
    return this.stopping;
  }
}

/**
 * Attempts here are keyed by job and attempt: the Sentinel frees a slot when
 * an attempt's verdict arrives, so the job's next attempt may be dispatched
 * here while this one still waits for its verdict to be applied.
 */
function attemptKey(ref: AttemptRef): string {
  return `${ref.jobId}/${ref.attempt}`;
}

/** The worker's own server runs plugin source on request (Run): every call needs a client token. */
function workerGuard(auth: Readonly<AuthSettings>, logger: Logger): grpc.ServerInterceptor {
  return authInterceptor({
    tokens: new TokenStore(auth.tokensFile, logger.scope({ component: 'auth' })),
    workerCertNames: [],
    workerMethods: [],
    guardedServices: ['casparian.v1.Worker'],
  });
}
