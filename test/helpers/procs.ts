/**
 * Real Sentinel and Worker processes for the fault-injection suite
 * (test/faults/). Everything a ProcCluster starts lives under one temp root:
 *
 *     {root}/data/            the Sentinel's data dir (sentinel.db, outputs/, staging/)
 *     {root}/in/              input files (the Sentinel's only input root)
 *     {root}/tmp/             TMPDIR of every worker, so bridge private dirs
 *                             (casparian-bridge-*) and therefore guest cwds land here
 *     {root}/logs/            stderr+stdout of every process (JSON log lines)
 *
 * Services are started with `node dist/tools/casparian.js` in detached process
 * groups. `cleanup()` kills every group it started, then every process whose
 * cwd, command line or environment points into the root (orphaned guests and
 * their children), checks with kill(pid, 0) that none is left, and removes the
 * root. It is safe to call from afterEach whatever state the test left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Job } from '../../services/gen/casparian/v1/types';
import { JobState } from '../../services/gen/casparian/v1/types';
import { SentinelClient } from '../../tools/cli/client';
import { testIndexUrl } from './pip-index';
import { REPO_ROOT, testHome, SHARED_LOCKFILE } from './python-env';

export const CLI = path.join(REPO_ROOT, 'dist', 'tools', 'casparian.js');
/** The same lockfile as the e2e tests, so the pyarrow env is built once per run. */
export const FAULTS_LOCKFILE = SHARED_LOCKFILE;
export const FAULT_PLUGINS = path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'faults');

export const FINAL_STATES: readonly JobState[] = [
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_DEAD_LETTER,
];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Thrown from a waitFor condition to stop waiting at once. */
export class Fatal extends Error {}

export async function waitFor<T>(what: string, cond: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      lastErr = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

/** A free TCP port on 127.0.0.1 (bound once and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface ProcInfo {
  pid: number;
  pgid: number;
  cmdline: string;
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, pgid: Number(fields[2]), cmdline };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes whose cwd, command line or environment mention `dir`. */
export function processesUnder(dir: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let hit = false;
    try {
      hit = fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
    } catch {
      /* gone or not ours */
    }
    if (!hit) {
      try {
        hit = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) || fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(dir);
      } catch {
        /* gone or not ours */
      }
    }
    if (!hit) continue;
    const info = procInfo(pid);
    if (info) out.push(info);
  }
  return out;
}

/** Guest interpreters (bridge_shim.py) started for workers under `dir`. */
export function guestProcessesUnder(dir: string): ProcInfo[] {
  return processesUnder(dir).filter((p) => p.cmdline.includes('bridge_shim.py'));
}

/** Resident and peak memory of a process in KiB (from /proc/PID/status). */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

export class ManagedProc {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly name: string,
    readonly logFile: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
  ) {
    const fd = fs.openSync(logFile, 'a');
    try {
      this.child = spawn(process.execPath, [CLI, ...args], { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Signal the process (not its group: a worker's guests have groups of their own). */
  signal(sig: NodeJS.Signals): void {
    if (this.alive) process.kill(this.pid, sig);
  }

  /** kill -9 and wait until the process is reaped. */
  async kill9(): Promise<void> {
    if (!this.alive) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      this.signal('SIGKILL');
    }
    await this.exited;
  }

  async waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  tail(lines = 40): string {
    try {
      const text = fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
      return text.slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export interface ProcClusterOptions {
  leaseMs?: number;
  heartbeatMs?: number;
  logLevel?: string;
  /** Extra environment for the Sentinel process. */
  sentinelEnv?: Record<string, string>;
}

export interface WorkerOptions {
  slots?: number;
  env?: Record<string, string>;
}

export class ProcCluster {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-faults-'));
  readonly dataDir = path.join(this.root, 'data');
  readonly inputDir = path.join(this.root, 'in');
  readonly tmpDir = path.join(this.root, 'tmp');
  readonly logDir = path.join(this.root, 'logs');
  port = 0;
  sentinel: ManagedProc | undefined;
  readonly workers = new Map<string, ManagedProc>();
  /** Every process ever started, for cleanup. */
  private readonly all: ManagedProc[] = [];
  private clientInstance: SentinelClient | undefined;
  private seq = 0;

  constructor(readonly opts: ProcClusterOptions = {}) {
    for (const d of [this.dataDir, this.inputDir, this.tmpDir, this.logDir]) fs.mkdirSync(d, { recursive: true });
  }

  static async start(opts: ProcClusterOptions & { workers?: string[]; slots?: number } = {}): Promise<ProcCluster> {
    const c = new ProcCluster(opts);
    try {
      c.port = await freePort();
      await c.startSentinel();
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

  get client(): SentinelClient {
    this.clientInstance ??= new SentinelClient(this.address);
    return this.clientInstance;
  }

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

  /** Start the Sentinel on this cluster's port and data dir; resolves once it answers RPCs. */
  async startSentinel(): Promise<ManagedProc> {
    if (this.sentinel?.alive) throw new Error('the Sentinel is already running');
    const env = this.baseEnv({
      CASPARIAN_LEASE_MS: String(this.opts.leaseMs ?? 3_000),
      CASPARIAN_HEARTBEAT_MS: String(this.opts.heartbeatMs ?? 500),
      ...this.opts.sentinelEnv,
    });
    const p = this.spawn('sentinel', ['sentinel', '--data-dir', this.dataDir, '--port', String(this.port), '--input-root', this.inputDir], env);
    this.sentinel = p;
    await waitFor(
      'the Sentinel to answer',
      async () => {
        if (!p.alive) throw new Fatal(`sentinel exited ${JSON.stringify(p.exit)}:\n${p.tail()}`);
        await this.client.listWorkers({});
        return true;
      },
      20_000,
      100,
    ).catch((e) => {
      if (!p.alive) throw new Fatal(`sentinel exited ${JSON.stringify(p.exit)}:\n${p.tail()}`);
      throw e;
    });
    return p;
  }

  /**
   * Start a worker process with id `name` (restarting it if it was killed);
   * resolves once the Sentinel lists a session of it opened after the start.
   */
  async startWorker(name: string, opts: WorkerOptions = {}): Promise<ManagedProc> {
    if (this.workers.get(name)?.alive) throw new Error(`worker ${name} is already running`);
    const idx = testIndexUrl();
    const env = this.baseEnv({ TMPDIR: this.tmpDir, CASPARIAN_PIP_INDEX_URL: idx, ...opts.env });
    const startedAt = Date.now() - 1_000; // the Sentinel's clock is this machine's clock; allow for rounding
    const p = this.spawn(name, ['worker', '--sentinel', this.address, '--slots', String(opts.slots ?? 2), '--worker-port=-1', '--home', testHome(), '--worker-id', name], env);
    this.workers.set(name, p);
    await waitFor(
      `worker ${name} to connect`,
      async () => {
        if (!p.alive) throw new Fatal(`worker ${name} exited ${JSON.stringify(p.exit)}:\n${p.tail()}`);
        const ws = (await this.client.listWorkers({})).workers;
        return ws.some((w) => w.workerId === name && (w.connectedAt?.getTime() ?? 0) >= startedAt);
      },
      30_000,
    ).catch((e) => {
      if (!p.alive) throw new Fatal(`worker ${name} exited ${JSON.stringify(p.exit)}:\n${p.tail()}`);
      throw e;
    });
    return p;
  }

  worker(name: string): ManagedProc {
    const w = this.workers.get(name);
    if (!w) throw new Error(`no worker ${name}`);
    return w;
  }

  // --- plugins and jobs -------------------------------------------------------

  async publish(name: string, file: string, manifest: { maxAttempts?: number } = {}): Promise<string> {
    const res = await this.client.publishPlugin({
      name,
      version: '1.0.0',
      source: fs.readFileSync(path.join(FAULT_PLUGINS, file), 'utf8'),
      lockfile: FAULTS_LOCKFILE,
      manifest: { description: `fault fixture ${file}`, envAllow: [], maxAttempts: manifest.maxAttempts ?? 0, timeouts: undefined, limits: undefined },
    });
    return res.plugin!.envHash;
  }

  async submit(plugin: string, inputPath: string, extra: { maxAttempts?: number; startToCloseMs?: number; idempotencyKey?: string } = {}): Promise<Job> {
    const res = await this.client.submitJob({
      pluginName: plugin,
      pluginVersion: '',
      inputPath,
      idempotencyKey: extra.idempotencyKey ?? '',
      maxAttempts: extra.maxAttempts ?? 0,
      timeouts: extra.startToCloseMs ? { guestConnectMs: 0, idleMs: 0, startToCloseMs: extra.startToCloseMs, killGraceMs: 0, scheduleToStartMs: 0 } : undefined,
    });
    return res.job!;
  }

  async getJob(jobId: string, includeLogs = false): Promise<Job> {
    return (await this.client.getJob({ jobId, includeLogs })).job!;
  }

  async waitJob(jobId: string, timeoutMs = 120_000, pred: (j: Job) => boolean = (j) => FINAL_STATES.includes(j.state)): Promise<Job> {
    let last: Job | undefined;
    try {
      return await waitFor(
        `job ${jobId}`,
        async () => {
          last = await this.getJob(jobId);
          return pred(last) ? last : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen: state ${last ? JobState[last.state] : '?'} attempt ${last?.attempt} error ${JSON.stringify(last?.error)}`);
    }
  }

  /** Every job of a plugin (pages through ListJobs). */
  async listJobs(pluginName: string): Promise<Job[]> {
    const out: Job[] = [];
    let pageToken = '';
    do {
      const res = await this.client.listJobs({ state: JobState.JOB_STATE_UNSPECIFIED, pluginName, pageSize: 1000, pageToken });
      out.push(...res.jobs);
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** The committed attempt directories of a job on disk (outputs/JOB/attempt-*). */
  attemptDirs(jobId: string): string[] {
    const dir = path.join(this.dataDir, 'outputs', jobId);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((d) => d.startsWith('attempt-'));
  }

  /** Bridge private dirs left in the workers' TMPDIR. */
  bridgeDirs(): string[] {
    return fs.existsSync(this.tmpDir) ? fs.readdirSync(this.tmpDir).filter((d) => d.startsWith('casparian-bridge-')) : [];
  }

  /** Staging dirs the Sentinel still holds. */
  stagingDirs(): string[] {
    const d = path.join(this.dataDir, 'staging');
    return fs.existsSync(d) ? fs.readdirSync(d) : [];
  }

  guests(): ProcInfo[] {
    return guestProcessesUnder(this.root);
  }

  // --- teardown ---------------------------------------------------------------

  /** Print the log tails of every process (for a failed test). */
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
   * Kill everything this cluster started (and anything else running with its
   * root as cwd, in its command line or environment), verify nothing is left,
   * remove the root. Returns what had to be killed by the sweep (strays), for
   * tests that want to assert there were none.
   */
  async cleanup(): Promise<{ strays: ProcInfo[] }> {
    this.clientInstance?.close();
    this.clientInstance = undefined;
    for (const p of this.all) if (p.alive) await p.kill9();
    const strays = processesUnder(this.root);
    const groups = new Set(strays.map((s) => s.pgid).filter((g) => g > 1 && g !== process.pid));
    for (const g of groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const s of strays) {
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitFor('stray processes to die', () => strays.every((s) => !pidAlive(s.pid)) && this.all.every((p) => !pidAlive(p.pid)), 10_000, 50);
    if (process.env.CASPARIAN_KEEP_FAULTS_DIR) {
      process.stderr.write(`kept fault test dir ${this.root}\n`);
    } else {
      fs.rmSync(this.root, { recursive: true, force: true });
    }
    return { strays };
  }
}

/**
 * Per-test cluster management for a describe block: `track(c)` registers a
 * cluster; afterEach prints the logs of a failed test and cleans every
 * tracked cluster up, failing the hook if a process survived.
 */
export function useClusters(): { track: (c: ProcCluster) => ProcCluster } {
  const live: ProcCluster[] = [];
  afterEach(async function () {
    const failed = this.currentTest?.state === 'failed';
    const list = live.splice(0);
    for (const c of list) {
      if (failed || process.env.CASPARIAN_TEST_LOG) process.stderr.write(`\n${c.dumpLogs()}\n`);
      await c.cleanup();
      if (fs.existsSync(c.root) && !process.env.CASPARIAN_KEEP_FAULTS_DIR) throw new Error(`temp dir ${c.root} left behind`);
    }
  });
  return { track: (c) => (live.push(c), c) };
}

/** Write an `id,value` CSV with `n` rows (after `header` lines such as "# sleep=3"); returns its path. */
export function writeCsv(dir: string, name: string, n: number, seed = 0, header: string[] = []): string {
  const file = path.join(dir, name);
  const lines = [...header, '# id,value'];
  for (let k = 0; k < n; k++) lines.push(`${seed * 1000 + k},${seed + k * 0.5}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * Run one quick `values` job so the shared pyarrow env exists (the first
 * provision of a test run takes ~15 s; later calls are quick).
 */
export async function warmUp(c: ProcCluster, plugin = 'values'): Promise<Job> {
  const file = writeCsv(c.inputDir, `warm-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.csv`, 3);
  const job = await c.waitJob((await c.submit(plugin, file)).id, 600_000);
  if (job.state !== JobState.JOB_STATE_SUCCEEDED) throw new Error(`warm-up job failed: ${JSON.stringify(job.error)}\n${c.dumpLogs()}`);
  return job;
}

/** Fetch a `values` job's output and compare it with what writeCsv(…, n, seed) wrote. Returns a problem or ''. */
export async function checkValues(c: ProcCluster, jobId: string, n: number, seed: number): Promise<string> {
  const { tableFromIPC } = await import('apache-arrow');
  const { ipc, info } = await c.client.fetchOutput(jobId);
  if (info?.rows !== n) return `job ${jobId}: output has ${info?.rows} rows, expected ${n}`;
  const rows = tableFromIPC(ipc).toArray();
  for (let k = 0; k < n; k++) {
    const r = rows[k];
    const id = seed * 1000 + k;
    const value = seed + k * 0.5;
    if (Number(r.id) !== id || r.value !== value || r.doubled !== value * 2) {
      return `job ${jobId} row ${k}: got ${JSON.stringify([Number(r.id), r.value, r.doubled])}, expected ${JSON.stringify([id, value, value * 2])}`;
    }
  }
  return '';
}
