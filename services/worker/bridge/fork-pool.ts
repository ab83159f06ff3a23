/**
 * The fork servers of one worker (isolation `fork` and `reuse`), one per env
 * hash, started on first use. Rules:
 *
 *  - **Restart.** A server that dies is dropped; the runs it was serving fail
 *    as worker_lost (their guests' exit can no longer be known), and the next
 *    attempt of that env starts a new one.
 *  - **Cap and LRU.** At most `maxServers` run at once. A new env's server
 *    replaces the least recently used server that serves no run; when every
 *    server is busy the attempt spawns instead.
 *  - **Env changes.** A server is stopped when its env is evicted or found
 *    broken or missing (stopEnv), and replaced when the env directory it
 *    started from is no longer the one on disk (a re-provisioned env).
 *  - **Fallback.** When no server can be used for an attempt (it cannot
 *    start, the cap is reached, fork() fails) the attempt gets a spawned
 *    guest, and the reason is logged once per env and reason, not per job. A
 *    server that failed to start is not tried again for `retryAfterMs`.
 *  - **Reuse.** With a reuse key, an idle reusable guest of that key is
 *    handed the job (RUN); else a reusable child is forked. After a verdict
 *    the guest goes back to the ReusePool; a crash, cancel or timeout kills
 *    it like any guest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { ForkServer, ForkServerGone } from './fork-server';
import { ForkedGuest } from './forked-guest';
import type { GuestHandle, GuestLaunchRequest, LaunchGuest } from './guest-handle';
import { spawnGuestProcess } from './guest-process';
import { ReusePool } from './reuse-pool';

export interface ForkPoolOptions {
  /** Absolute path of bridge_py/fork_server.py. */
  script: string;
  hostEnv: Readonly<NodeJS.ProcessEnv>;
  logger: Logger;
  /** Most servers running at once. */
  maxServers: number;
  /** Most idle reusable guests kept (isolation `reuse`); the worker's slots. */
  maxIdleGuests: number;
  /** How long a server may take to import pyarrow and say READY. Default 60 s. */
  startTimeoutMs?: number;
  /** How long after a failed start attempts of that env spawn without trying again. Default 30 s. */
  retryAfterMs?: number;
}

/** Which server an attempt uses, and whether its guest may be reused. */
export interface ForkTarget {
  envHash: string;
  python: string;
  /** Isolation `reuse`: guests are shared between attempts with the same key (env + plugin version). */
  reuseKey?: string;
}

type Fallback = { kind: 'start' | 'cap' | 'fork' | 'closed'; why: string };

export class ForkServerPool {
  private readonly servers = new Map<string, { server: ForkServer; envId: string }>();
  private readonly starting = new Map<string, Promise<ForkServer | Fallback>>();
  private readonly startFailures = new Map<string, { at: number; why: string }>();
  private readonly logged = new Set<string>();
  private readonly reuse: ReusePool;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: ForkPoolOptions) {
    this.reuse = new ReusePool(opts.maxIdleGuests);
    this.log = opts.logger.scope({ component: 'fork-pool' });
  }

  /** Running servers (for tests and diagnostics). */
  serverPids(): Map<string, number | undefined> {
    return new Map([...this.servers].map(([h, s]) => [h, s.server.pid]));
  }

  /** How an attempt of `target` starts its guest: forked (or reused) when a server can be used, else spawned. */
  launcher(target: ForkTarget): LaunchGuest {
    return async (req) => {
      const server = await this.serverFor(target);
      if (!(server instanceof ForkServer)) {
        this.fallback(target.envHash, server);
        return spawnGuestProcess(req);
      }
      server.lastUsedAt = Date.now();
      try {
        return (target.reuseKey && (await this.reuseIdle(target.reuseKey, req))) || (await this.fork(server, target, req));
      } catch (e) {
        if (e instanceof ForkServerGone) throw new JobFailure(JobErrors.workerLost(`${e.message}, before the guest started`));
        this.fallback(target.envHash, { kind: 'fork', why: (e as Error).message });
        return spawnGuestProcess(req);
      }
    };
  }

  /** Stop the server of an env (evicted, broken or missing). */
  async stopEnv(envHash: string): Promise<void> {
    const entry = this.servers.get(envHash);
    if (!entry) return;
    this.servers.delete(envHash);
    await entry.server.stop();
  }

  /** Stop every server (worker shutdown, after its attempts ended). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.reuse.clear();
    await Promise.all([...this.starting.values()]);
    await Promise.all([...this.servers.keys()].map((h) => this.stopEnv(h)));
  }

  // --- internals ---------------------------------------------------------------

  private async fork(server: ForkServer, target: ForkTarget, req: GuestLaunchRequest): Promise<GuestHandle> {
    const child = await server.fork({ cwd: req.cwd, env: req.env }, target.reuseKey !== undefined);
    const key = target.reuseKey;
    return new ForkedGuest(child, req, key === undefined ? undefined : (c) => this.reuse.put({ key, server, child: c }));
  }

  /** An idle guest of `key` serving this run, or undefined when none could take it. */
  private async reuseIdle(key: string, req: GuestLaunchRequest): Promise<GuestHandle | undefined> {
    for (let g = this.reuse.take(key); g; g = this.reuse.take(key)) {
      const idle = g;
      try {
        await idle.server.run(idle.child, { cwd: req.cwd, env: req.env });
      } catch (e) {
        if (e instanceof ForkServerGone) throw e;
        continue; // it exited meanwhile; try the next one
      }
      return new ForkedGuest(idle.child, req, (c) => this.reuse.put({ ...idle, child: c }));
    }
    return undefined;
  }

  private async serverFor(t: ForkTarget): Promise<ForkServer | Fallback> {
    if (this.closed) return { kind: 'closed', why: 'the worker is shutting down' };
    const pending = this.starting.get(t.envHash);
    if (pending) return pending;
    const entry = this.servers.get(t.envHash);
    if (entry) {
      if (entry.server.state === 'ready' && entry.server.python === t.python && entry.envId === envIdentity(t.python)) return entry.server;
      await this.stopEnv(t.envHash); // dead, or its env was replaced on disk
    }
    const failed = this.startFailures.get(t.envHash);
    if (failed && Date.now() - failed.at < (this.opts.retryAfterMs ?? 30_000)) return { kind: 'start', why: failed.why };
    const p = this.startServer(t).finally(() => this.starting.delete(t.envHash));
    this.starting.set(t.envHash, p);
    return p;
  }

  private async startServer(t: ForkTarget): Promise<ForkServer | Fallback> {
    if (!(await this.makeRoom())) {
      return { kind: 'cap', why: `all ${this.opts.maxServers} fork servers (--fork-servers) are serving attempts of other envs` };
    }
    const envId = envIdentity(t.python);
    const server = new ForkServer({
      envHash: t.envHash,
      python: t.python,
      script: this.opts.script,
      hostEnv: this.opts.hostEnv,
      logger: this.opts.logger,
      startTimeoutMs: this.opts.startTimeoutMs ?? 60_000,
    });
    this.servers.set(t.envHash, { server, envId });
    server.onGone(() => {
      if (this.servers.get(t.envHash)?.server === server) this.servers.delete(t.envHash);
    });
    try {
      await server.start();
    } catch (e) {
      const why = `the fork server cannot start: ${(e as Error).message}`;
      this.startFailures.set(t.envHash, { at: Date.now(), why });
      return { kind: 'start', why };
    }
    this.startFailures.delete(t.envHash);
    for (const kind of ['start', 'cap', 'fork']) this.logged.delete(`${t.envHash}:${kind}`);
    return server;
  }

  /** Below the cap, if need be by stopping the least recently used server that serves no run. */
  private async makeRoom(): Promise<boolean> {
    while (this.servers.size >= this.opts.maxServers) {
      const idle = [...this.servers.values()].filter((e) => e.server.state === 'ready' && e.server.busy === 0);
      if (idle.length === 0) return false;
      const lru = idle.reduce((a, b) => (a.server.lastUsedAt <= b.server.lastUsedAt ? a : b));
      this.log.info('stopping the least recently used fork server', { envHash: lru.server.envHash.slice(0, 12), cap: this.opts.maxServers });
      await this.stopEnv(lru.server.envHash);
    }
    return true;
  }

  private fallback(envHash: string, f: Fallback): void {
    const key = `${envHash}:${f.kind}`;
    if (f.kind === 'closed' || this.logged.has(key)) return;
    this.logged.add(key);
    this.log.warn('no fork server for this env; its attempts spawn a fresh interpreter instead (logged once)', { envHash: envHash.slice(0, 12), reason: f.why });
  }
}

/** The env directory's identity (device and inode), '' when it is gone: a re-provisioned env is a new directory. */
function envIdentity(python: string): string {
  try {
    const st = fs.statSync(path.dirname(path.dirname(python)));
    return `${st.dev}:${st.ino}`;
  } catch {
    return '';
  }
}
