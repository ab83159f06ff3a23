/**
 * One fork server: a long-lived `{env}/bin/python fork_server.py` for one
 * env on this worker, which has imported pyarrow and the shim and forks a
 * child per job (bridge_py/fork_server.py; the control protocol is in
 * fork-protocol.ts and docs/bridge-protocol.md).
 *
 *   starting ──READY──► ready ──stop()──► stopping ──► gone
 *       │                 │                              ▲
 *       └─────────────────┴──── exited, bad frame ───────┘
 *
 * The server is the parent of its children and reaps them; their exit
 * status and output reach the worker as EXIT and STDOUT/STDERR frames, and
 * are handed to each child's ForkedChild record. A server that goes away
 * before a child's EXIT orphans that child: its exit can no longer be known,
 * and the run it serves fails as worker_lost.
 *
 * The server is no child of a detached group: it shares the worker's process
 * group (and ignores SIGINT/SIGTERM sent to it), so it is not mistaken for a
 * guest, and it ends when its stdin does, which also happens when the worker
 * dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Logger } from '../../common/logger';
import { StateMachine, type Transitions } from '../../common/state-machine';
import { forkServerDirPrefix } from './bridge-dirs';
import { ForkedChild } from './forked-child';
import { MAX_SERVER_FRAME, forkFrame, parseServerFrame, runFrame, type ForkRequest, type ServerMessage } from './fork-protocol';
import { FrameReader } from './frames';
import { buildServerEnv } from './guest-env';
import { settledWithin } from './guest-process';
import { TailBuffer } from './tail-buffer';

export type ForkServerState = 'starting' | 'ready' | 'stopping' | 'gone';

const TRANSITIONS: Transitions<ForkServerState> = {
  starting: ['ready', 'stopping', 'gone'],
  ready: ['stopping', 'gone'],
  stopping: ['gone'],
  gone: [],
};

/** How long stop() waits for the server to exit after closing its stdin, before SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** A FORK or RUN takes milliseconds; a server that has not answered in this time is wedged, and is killed. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The server went away before it answered. */
export class ForkServerGone extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForkServerGone';
  }
}

export interface ForkServerOptions {
  envHash: string;
  /** The env's interpreter. */
  python: string;
  /** Absolute path of bridge_py/fork_server.py. */
  script: string;
  /** The worker's environment; the server gets only a guest's allow-listed part of it. */
  hostEnv: Readonly<NodeJS.ProcessEnv>;
  logger: Logger;
  /** How long start() waits for READY. */
  startTimeoutMs: number;
}

interface Pending {
  started(pid: number): void;
  failed(e: Error): void;
}

export class ForkServer {
  readonly envHash: string;
  readonly python: string;
  /** For LRU eviction: when an attempt last asked for this server. */
  lastUsedAt = Date.now();
  private readonly lifecycle: StateMachine<ForkServerState>;
  private readonly log: Logger;
  private readonly stderrTail = new TailBuffer(16 * 1024);
  private readonly reader = new FrameReader(MAX_SERVER_FRAME);
  private readonly children = new Map<number, ForkedChild>();
  private readonly pending = new Map<number, Pending>();
  private readonly goneListeners: ((reason: string) => void)[] = [];
  private proc: ChildProcess | undefined;
  private dir: string | undefined;
  private nextId = 1;
  private readyWaiter: { resolve(): void; reject(e: Error): void } | undefined;
  private closed!: Promise<void>;

  constructor(private readonly opts: ForkServerOptions) {
    this.envHash = opts.envHash;
    this.python = opts.python;
    this.log = opts.logger.scope({ component: 'fork-server', envHash: opts.envHash.slice(0, 12) });
    this.lifecycle = new StateMachine<ForkServerState>('ForkServer', 'starting', TRANSITIONS, this.log);
  }

  get state(): ForkServerState {
    return this.lifecycle.state;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Runs served now, or being started (idle reusable children do not count). */
  get busy(): number {
    let n = this.pending.size;
    for (const c of this.children.values()) if (c.attached) n++;
    return n;
  }

  onGone(fn: (reason: string) => void): void {
    this.goneListeners.push(fn);
  }

  /** Start the process and wait for READY; rejects (and leaves the server gone) when it cannot be used. */
  async start(): Promise<void> {
    this.lifecycle.require('start', 'starting');
    const started = Date.now();
    this.dir = await fs.promises.mkdtemp(forkServerDirPrefix());
    await fs.promises.chmod(this.dir, 0o700);
    const ready = new Promise<void>((resolve, reject) => (this.readyWaiter = { resolve, reject }));
    const proc = spawn(this.python, [this.opts.script], {
      cwd: this.dir,
      env: buildServerEnv({ base: this.opts.hostEnv, home: this.dir, python: this.python }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.closed = new Promise<void>((resolve) => {
      proc.once('close', (code, signal) => {
        this.gone(signal ? `it was killed by ${signal}` : `it exited with code ${code}`);
        resolve();
      });
    });
    proc.on('error', (e) => this.log.debug('fork server process error', { error: e.message }));
    proc.stdin!.on('error', () => undefined); // a dead server: 'close' says so
    proc.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    proc.stderr!.on('data', (chunk: Buffer) => this.stderrTail.push(chunk));
    const timer = setTimeout(() => this.readyWaiter?.reject(new Error(`no READY within ${this.opts.startTimeoutMs} ms`)), this.opts.startTimeoutMs);
    try {
      await ready;
    } catch (e) {
      await this.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    this.log.info('fork server ready', { pid: proc.pid, ms: Date.now() - started });
  }

  /** Fork a child that serves one run (reuse: then waits for RUN). Rejects with ForkServerGone, or an Error when the fork failed. */
  fork(req: ForkRequest, reuse: boolean): Promise<ForkedChild> {
    return this.request((id) => forkFrame(id, req, reuse), (pid) => {
      const child = new ForkedChild(pid, reuse);
      this.children.set(pid, child);
      return child;
    });
  }

  /** Hand an idle reusable child of this server its next run. */
  async run(child: ForkedChild, req: ForkRequest): Promise<void> {
    child.nextRun();
    await this.request((id) => runFrame(id, child.pid, req), () => undefined);
  }

  /** Close the server's stdin (it kills and reaps its children, then exits); SIGKILL after a grace period. Idempotent. */
  async stop(): Promise<void> {
    if (this.lifecycle.is('starting', 'ready')) {
      this.lifecycle.to('stopping');
      this.proc?.stdin?.end();
      if (this.proc && !(await settledWithin(this.closed, STOP_GRACE_MS))) this.proc.kill('SIGKILL');
    }
    if (this.proc) await this.closed;
    else this.gone('it never started');
  }

  // --- internals ---------------------------------------------------------------

  private request<T>(frame: (id: number) => Buffer, onStarted: (pid: number) => T): Promise<T> {
    if (!this.lifecycle.is('ready')) return Promise.reject(new ForkServerGone(`the fork server is ${this.state}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.log.error('fork server did not answer; killing it', { ms: REQUEST_TIMEOUT_MS });
        this.proc?.kill('SIGKILL'); // gone() then rejects this request with ForkServerGone
      }, REQUEST_TIMEOUT_MS);
      const settle = (): void => {
        clearTimeout(timer);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        started: (pid) => {
          settle();
          resolve(onStarted(pid));
        },
        failed: (e) => {
          settle();
          reject(e);
        },
      });
      this.proc!.stdin!.write(frame(id));
    });
  }

  private onData(chunk: Buffer): void {
    if (this.lifecycle.is('gone')) return;
    try {
      for (const frame of this.reader.push(chunk)) this.handle(parseServerFrame(frame));
    } catch (e) {
      this.log.error('fork server broke its protocol; killing it', { error: (e as Error).message });
      this.proc?.kill('SIGKILL');
    }
  }

  /** Handled synchronously, in order: a child's record exists before its output or EXIT is read. */
  private handle(m: ServerMessage): void {
    switch (m.kind) {
      case 'ready':
        if (m.threads > 1) {
          this.readyWaiter?.reject(new Error(`the server runs ${m.threads} threads after its imports, and forking a process with threads is unsafe`));
        } else if (this.lifecycle.is('starting')) {
          this.lifecycle.to('ready');
          this.log.debug('fork server imports done', { python: m.pythonVersion, pyarrow: m.pyarrowVersion });
          this.readyWaiter?.resolve();
        }
        return;
      case 'started':
      case 'failed': {
        const p = this.pending.get(m.id);
        if (m.kind === 'started') p?.started(m.pid);
        else p?.failed(new Error(m.error));
        return;
      }
      case 'exit': {
        const child = this.children.get(m.pid);
        this.children.delete(m.pid);
        child?.exited({ code: m.code, signal: m.signal });
        return;
      }
      case 'output':
        this.children.get(m.pid)?.output(m.stream, Buffer.from(m.bytes));
        return;
    }
  }

  private gone(how: string): void {
    if (this.lifecycle.is('gone')) return;
    const expected = this.lifecycle.is('stopping');
    this.lifecycle.to('gone');
    const reason = `the fork server of env ${this.envHash.slice(0, 12)} (pid ${this.proc?.pid ?? '-'}) ended: ${how}`;
    if (expected) this.log.info('fork server stopped', { pid: this.proc?.pid });
    else this.log.warn('fork server died', { pid: this.proc?.pid, how, stderr: this.stderrTail.text().slice(-2000) });
    this.readyWaiter?.reject(new Error(`${how}${this.stderrTail.text().trim() ? `: ${this.stderrTail.text().trim().split('\n').pop()}` : ''}`));
    for (const p of [...this.pending.values()]) p.failed(new ForkServerGone(reason));
    for (const child of this.children.values()) child.orphaned(reason);
    this.children.clear();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    for (const fn of this.goneListeners) fn(reason);
  }
}
