/**
 * A real Sentinel and real Worker processes, started through the CLI, for the
 * fault-injection suite (test/faults/). Besides the layout of every test
 * cluster (test-cluster.ts), a ProcCluster's root holds
 *
 *     {root}/tmp/    TMPDIR of every worker, so bridge private dirs
 *                    (casparian-bridge-*) and therefore guest cwds land here
 *     {root}/logs/   stdout+stderr of every process (JSON log lines)
 *
 * `stop()` kills every process the cluster started, gives the processes those
 * leave behind (guests of a killed worker) a moment to go, then fails if any
 * process still runs in, or with a command line or environment pointing into,
 * the root: those are strays. They are killed after being reported, so later
 * tests start clean. `useClusters()` does this at the end of each test.
 */
import type * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flags } from '../../services/common/config';
import { ManagedProc, freePort } from './managed-proc';
import { guestProcessesUnder, killAll, pidAlive, processesUnder, type ProcInfo } from './proc-inspect';
import { SentinelClient } from '../../tools/cli/client';
import { TestCluster, type ServiceConfig } from './test-cluster';
import { Fatal, waitFor } from './wait';

/** How long processes left by a killed service get to end on their own before they count as strays. */
const STRAY_GRACE_MS = 5_000;

export interface ProcClusterOptions {
  leaseMs?: number;
  heartbeatMs?: number;
  logLevel?: string;
  /** Extra environment for the Sentinel process. */
  sentinelEnv?: Record<string, string>;
  /** How the cluster's own client dials the Sentinel (e.g. TLS); default plaintext. */
  clientCredentials?: grpc.ChannelCredentials;
  /** A client token the cluster's own client sends. */
  clientToken?: string;
  /**
   * Sentinel replicas (default 1). With more, they share a PostgreSQL database
   * (whatever CASPARIAN_TEST_STORE says) and an output root (`{root}/shared`);
   * replica i > 0 has its own data dir `{root}/data-{i}`, and workers dial
   * every replica (--sentinel A,B,…).
   */
  replicas?: number;
}

export interface WorkerOptions {
  slots?: number;
  env?: Record<string, string>;
  /** Dial this address instead of the Sentinel's (e.g. a TcpProxy in front of it). */
  sentinel?: string;
  /** Serve the worker's own gRPC service (Run, health, reflection) on this port; default: none. */
  port?: number;
  /** Flags over the test defaults (test-cluster.ts); false drops a boolean flag (e.g. 'allow-unsigned'). */
  flags?: Flags;
}

function cliArgs(command: string, cfg: ServiceConfig): string[] {
  return [command, ...Object.entries(cfg.flags).flatMap(([k, v]) => (v === undefined || v === false ? [] : v === true ? [`--${k}`] : [`--${k}=${v}`]))];
}

export class ProcCluster extends TestCluster {
  readonly tmpDir = path.join(this.root, 'tmp');
  readonly logDir = path.join(this.root, 'logs');
  port = 0;
  /** The first replica's process (the only one, unless opts.replicas > 1). */
  sentinel: ManagedProc | undefined;
  /** Ports of replicas 1… (replica 0 is `port`). */
  readonly replicaPorts: number[] = [];
  /** Processes of replicas 1… (replica 0 is `sentinel`). */
  readonly replicaProcs: (ManagedProc | undefined)[] = [];
  private readonly replicaClients = new Map<number, SentinelClient>();
  readonly workers = new Map<string, ManagedProc>();
  /** Every process ever started, for cleanup. */
  private readonly all: ManagedProc[] = [];
  private seq = 0;

  constructor(readonly opts: ProcClusterOptions = {}) {
    super('casparian-faults-');
    for (const d of [this.tmpDir, this.logDir]) fs.mkdirSync(d, { recursive: true });
  }

  static async start(opts: ProcClusterOptions & { workers?: string[]; slots?: number } = {}): Promise<ProcCluster> {
    const c = new ProcCluster(opts);
    try {
      c.port = await freePort();
      if ((opts.replicas ?? 1) > 1) {
        c.sharedOutputRoot = path.join(c.root, 'shared'); // the first replica creates it
        await c.prepareStore(true);
        for (let i = 1; i < opts.replicas!; i++) c.replicaPorts.push(await freePort());
      }
      await c.startSentinel();
      for (let i = 1; i < (opts.replicas ?? 1); i++) await c.startReplica(i);
      await Promise.all((opts.workers ?? []).map((w) => c.startWorker(w, { slots: opts.slots })));
    } catch (e) {
      await c.cleanup();
      throw e;
    }
    return c;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** host:port of replica i (0 is the first Sentinel). */
  replicaAddress(i: number): string {
    return i === 0 ? this.address : `127.0.0.1:${this.replicaPorts[i - 1]}`;
  }

  override get workerSentinel(): string {
    return [0, ...this.replicaPorts.map((_, i) => i + 1)].map((i) => this.replicaAddress(i)).join(',');
  }

  /** A client of replica i alone. */
  replicaClient(i: number): SentinelClient {
    if (i === 0) return this.client;
    let c = this.replicaClients.get(i);
    if (!c) {
      c = new SentinelClient(this.replicaAddress(i), undefined, this.clientCredentials(), this.clientToken());
      this.replicaClients.set(i, c);
    }
    return c;
  }

  /** The process of replica i. */
  replica(i: number): ManagedProc | undefined {
    return i === 0 ? this.sentinel : this.replicaProcs[i - 1];
  }

  /** Start replica i > 0 (same store and output root, its own data dir); resolves once it answers RPCs. */
  async startReplica(i: number): Promise<ManagedProc> {
    if (i === 0) return this.startSentinel();
    if (this.replicaProcs[i - 1]?.alive) throw new Error(`replica ${i} is already running`);
    const cfg = this.sentinelConfig(this.replicaPorts[i - 1], { leaseMs: this.opts.leaseMs ?? 3_000, heartbeatMs: this.opts.heartbeatMs ?? 500 });
    cfg.flags['data-dir'] = path.join(this.root, `data-${i}`);
    const p = this.spawn(`sentinel-${i}`, cliArgs('sentinel', cfg), this.baseEnv({ ...cfg.env, ...this.opts.sentinelEnv }));
    this.replicaProcs[i - 1] = p;
    await this.whileAlive(p, `replica ${i} to answer`, async () => (await this.replicaClient(i).listWorkers({}), true), 20_000);
    return p;
  }

  /** The workers every live replica lists, by id. */
  async listWorkersEverywhere(): Promise<Map<string, Date | undefined>> {
    const out = new Map<string, Date | undefined>();
    for (let i = 0; i <= this.replicaPorts.length; i++) {
      if (!this.replica(i)?.alive) continue;
      for (const w of (await this.replicaClient(i).listWorkers({})).workers) out.set(w.workerId, w.connectedAt);
    }
    return out;
  }

  protected override clientCredentials(): grpc.ChannelCredentials | undefined {
    return this.opts.clientCredentials;
  }

  protected override clientToken(): string | undefined {
    return this.opts.clientToken;
  }

  /** This process's environment without CASPARIAN_* settings (but logging and the python), plus `extra`. */
  private baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, CASPARIAN_LOG_LEVEL: this.opts.logLevel ?? 'info', CASPARIAN_LOG_FORMAT: 'json' };
    for (const k of Object.keys(env)) if (k.startsWith('CASPARIAN_') && !['CASPARIAN_LOG_LEVEL', 'CASPARIAN_LOG_FORMAT', 'CASPARIAN_PYTHON'].includes(k)) delete env[k];
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
    return env;
  }

  private spawn(name: string, args: string[], env: NodeJS.ProcessEnv): ManagedProc {
    const p = new ManagedProc(name, path.join(this.logDir, `${name}.${++this.seq}.log`), args, env, this.root);
    this.all.push(p);
    return p;
  }

  /** Wait for `ready`, failing at once (with the log tail) if the process exits meanwhile. */
  private async whileAlive(p: ManagedProc, what: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const died = () => new Fatal(`${p.name} exited ${JSON.stringify(p.exit)}:\n${p.tail()}`);
    await waitFor(
      what,
      async () => {
        if (!p.alive) throw died();
        return ready();
      },
      timeoutMs,
    ).catch((e) => {
      throw p.alive ? e : died();
    });
  }

  /** Start the Sentinel on this cluster's port and data dir; resolves once it answers RPCs. */
  async startSentinel(): Promise<ManagedProc> {
    if (this.sentinel?.alive) throw new Error('the Sentinel is already running');
    await this.prepareStore();
    const cfg = this.sentinelConfig(this.port, { leaseMs: this.opts.leaseMs ?? 3_000, heartbeatMs: this.opts.heartbeatMs ?? 500 });
    const p = this.spawn('sentinel', cliArgs('sentinel', cfg), this.baseEnv({ ...cfg.env, ...this.opts.sentinelEnv }));
    this.sentinel = p;
    await this.whileAlive(p, 'the Sentinel to answer', async () => (await this.client.listWorkers({}), true), 20_000);
    return p;
  }

  /**
   * Start a worker process with id `name` (restarting it if it was killed);
   * resolves once the Sentinel lists a session of it opened after the start.
   */
  async startWorker(name: string, opts: WorkerOptions = {}): Promise<ManagedProc> {
    if (this.workers.get(name)?.alive) throw new Error(`worker ${name} is already running`);
    const cfg = this.workerConfig(name, opts.slots ?? 2);
    if (opts.sentinel) cfg.flags.sentinel = opts.sentinel;
    if (opts.port !== undefined) cfg.flags['worker-port'] = String(opts.port);
    Object.assign(cfg.flags, opts.flags);
    const startedAt = Date.now() - 1_000; // the Sentinel's clock is this machine's clock; allow for rounding
    const p = this.spawn(name, cliArgs('worker', cfg), this.baseEnv({ TMPDIR: this.tmpDir, ...cfg.env, ...opts.env }));
    this.workers.set(name, p);
    await this.whileAlive(
      p,
      `worker ${name} to connect`,
      async () => {
        if (this.replicaPorts.length === 0) return (await this.client.listWorkers({})).workers.some((w) => w.workerId === name && (w.connectedAt?.getTime() ?? 0) >= startedAt);
        return ((await this.listWorkersEverywhere()).get(name)?.getTime() ?? 0) >= startedAt;
      },
      30_000,
    );
    return p;
  }

  worker(name: string): ManagedProc {
    const w = this.workers.get(name);
    if (!w) throw new Error(`no worker ${name}`);
    return w;
  }

  /** Bridge private dirs left in the workers' TMPDIR. */
  bridgeDirs(): string[] {
    return fs.existsSync(this.tmpDir) ? fs.readdirSync(this.tmpDir).filter((d) => d.startsWith('casparian-bridge-')) : [];
  }

  guests(): ProcInfo[] {
    return guestProcessesUnder(this.root);
  }

  /** The log tails of every process (for a failed test). */
  dumpLogs(lines = 30): string {
    return this.all.map((p) => `--- ${p.name} (pid ${p.pid}, exit ${JSON.stringify(p.exit)}) ${p.logFile}\n${p.tail(lines)}`).join('\n');
  }

  /** Gracefully stop every live worker (SIGTERM) and the Sentinel, waiting for exits. */
  async stopGracefully(timeoutMs = 20_000): Promise<void> {
    const ws = [...this.workers.values()].filter((w) => w.alive);
    for (const w of ws) w.signal('SIGTERM');
    await Promise.all(ws.map((w) => w.waitExit(timeoutMs)));
    if (this.sentinel?.alive) {
      this.sentinel.signal('SIGTERM');
      await this.sentinel.waitExit(timeoutMs);
    }
  }

  /**
   * kill -9 everything this cluster started; then whatever still runs under
   * the root after STRAY_GRACE_MS is a stray: it is killed too and returned.
   * Removes the root. Safe to call whatever state a test left.
   */
  async cleanup(): Promise<{ strays: ProcInfo[] }> {
    this.closeClient();
    for (const c of this.replicaClients.values()) c.close();
    this.replicaClients.clear();
    for (const p of this.all) if (p.alive) await p.kill9();
    const strays = await waitFor('processes under the cluster root to end', () => processesUnder(this.root).length === 0, STRAY_GRACE_MS, 50).then(
      () => [],
      () => processesUnder(this.root),
    );
    killAll(strays);
    await waitFor('stray processes to die', () => strays.every((s) => !pidAlive(s.pid)) && this.all.every((p) => !pidAlive(p.pid)), 10_000, 50);
    if (process.env.CASPARIAN_KEEP_FAULTS_DIR) {
      process.stderr.write(`kept fault test dir ${this.root}\n`);
    } else {
      fs.rmSync(this.root, { recursive: true, force: true });
    }
    return { strays };
  }

  /** cleanup(), then throw if a process had to be swept up or the root is still there. */
  async stop(): Promise<void> {
    const { strays } = await this.cleanup();
    if (strays.length) {
      throw new Error(`${strays.length} process(es) outlived their cluster and were killed:\n${strays.map((s) => `  pid ${s.pid} (group ${s.pgid}): ${s.cmdline}`).join('\n')}`);
    }
    if (fs.existsSync(this.root) && !process.env.CASPARIAN_KEEP_FAULTS_DIR) throw new Error(`temp dir ${this.root} left behind`);
  }
}

/**
 * Per-test cluster management for a describe block. Declare the tests with
 * the returned `it` and register their clusters with `track(c)`. When a test's
 * body has finished, passed or failed, every cluster it tracked is stopped;
 * a stray process fails that very test (the strays are killed after being
 * reported, and the remaining tests run on a clean machine). A failed test
 * prints the log tails of its processes.
 */
export function useClusters(): { track: (c: ProcCluster) => ProcCluster; it: (title: string, body: () => Promise<void>) => Mocha.Test } {
  const live: ProcCluster[] = [];
  async function stopAll(failed: boolean): Promise<string[]> {
    const problems: string[] = [];
    for (const c of live.splice(0)) {
      if (failed || process.env.CASPARIAN_TEST_LOG) process.stderr.write(`\n${c.dumpLogs()}\n`);
      await c.stop().catch((e: Error) => problems.push(e.message));
    }
    return problems;
  }
  // A test that timed out has not reached its own cleanup: stop what it left.
  afterEach(async function () {
    const problems = await stopAll(this.currentTest?.state !== 'passed');
    if (problems.length && this.currentTest?.state === 'passed') throw new Error(`"${this.currentTest.title}" left: ${problems.join('\n')}`);
    for (const p of problems) process.stderr.write(`\n${p}\n`);
  });
  return {
    track: (c) => (live.push(c), c),
    it: (title, body) =>
      it(title, async () => {
        let failure: unknown;
        try {
          await body();
        } catch (e) {
          failure = e;
        }
        const problems = await stopAll(failure !== undefined);
        if (failure !== undefined) {
          if (problems.length && failure instanceof Error) failure.message += `\n(and at cleanup: ${problems.join('\n')})`;
          throw failure;
        }
        if (problems.length) throw new Error(`the test left processes or files behind: ${problems.join('\n')}`);
      }),
  };
}
