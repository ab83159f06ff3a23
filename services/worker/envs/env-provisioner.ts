/**
 * Single-flight provisioning of one env hash.
 *  - In-process: concurrent callers share one in-flight promise (and its log lines).
 *  - Cross-process: the build runs only while holding `${venvs}/${hash}.lock`;
 *    waiters poll, re-checking for a finished env, and give up after
 *    `lockWaitTimeoutMs` with ENV_PROVISION_TIMEOUT naming the lock owner.
 *  - A failed build is cached (FailureCache) and returned fast until it expires.
 * Readiness is decided by the caller (`isReady`), which knows about envs that
 * failed the startup self-check.
 */
import * as fs from 'node:fs';
import { JobErrors, JobFailure } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { buildEnv, BuildContext } from './env-build';
import { shortHash } from './env-hash';
import type { EnvPaths } from './env-paths';
import { CachedFailure, FailureCache } from './failure-cache';
import { tryLock } from './file-lock';

export interface ProvisionerOptions {
  paths: EnvPaths;
  lockWaitTimeoutMs: number;
  pollMs: number;
  failures: FailureCache;
  now: () => number;
  logger: Logger;
  /** Everything buildEnv needs except the per-call log listener. */
  build: Omit<BuildContext, 'onLine'>;
  isReady: (envHash: string) => boolean;
}

type Flight = { promise: Promise<boolean>; listeners: Set<(l: string) => void> };

export class EnvProvisioner {
  private readonly inflight = new Map<string, Flight>();

  constructor(private readonly o: ProvisionerOptions) {}

  /** Resolves true if this process built the env, false if another process did; throws JobFailure. */
  ensure(envHash: string, lockfile: string, log?: (l: string) => void): Promise<boolean> {
    let flight = this.inflight.get(envHash);
    if (!flight) {
      const listeners = new Set<(l: string) => void>();
      const promise = this.underLock(envHash, lockfile, (l) => listeners.forEach((fn) => fn(l))).finally(() => this.inflight.delete(envHash));
      flight = { promise, listeners };
      this.inflight.set(envHash, flight);
    }
    if (!log) return flight.promise;
    const f = flight;
    f.listeners.add(log);
    return f.promise.finally(() => f.listeners.delete(log));
  }

  private async underLock(envHash: string, lockfile: string, onLine: (l: string) => void): Promise<boolean> {
    this.throwIfCachedFailure(envHash);
    fs.mkdirSync(this.o.paths.venvs, { recursive: true });
    const waitStart = Date.now();
    let announced = false;
    for (;;) {
      if (this.o.isReady(envHash)) return false;
      const attempt = tryLock(this.o.paths.lock(envHash));
      if (attempt.acquired) {
        try {
          if (this.o.isReady(envHash)) return false;
          this.throwIfCachedFailure(envHash);
          await this.build(envHash, lockfile, onLine);
          return true;
        } finally {
          attempt.lock.release();
        }
      }
      this.throwIfCachedFailure(envHash); // another process may just have failed
      const waited = Date.now() - waitStart;
      const owner = attempt.owner;
      if (waited >= this.o.lockWaitTimeoutMs) {
        const who = owner ? `pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}` : 'unknown owner';
        throw new JobFailure(
          JobErrors.envProvisionTimeout(`waited ${Math.round(waited / 1000)} s for another install of ${envHash} (${who}); lock ${this.o.paths.lock(envHash)}`),
        );
      }
      if (!announced) {
        announced = true;
        this.o.logger.info('waiting for another install of the env', { envHash: shortHash(envHash), ownerPid: owner?.pid });
        onLine(`waiting for another install of env ${shortHash(envHash)} (pid ${owner?.pid ?? '?'})`);
      }
      await new Promise((r) => setTimeout(r, this.o.pollMs));
    }
  }

  private async build(envHash: string, lockfile: string, onLine: (l: string) => void): Promise<void> {
    try {
      await buildEnv({ ...this.o.build, onLine }, envHash, lockfile);
    } catch (err) {
      if (err instanceof JobFailure) this.o.failures.record(envHash, err.jobError, this.o.now());
      throw err;
    }
    this.o.failures.clear(envHash);
  }

  private throwIfCachedFailure(envHash: string): void {
    const f = this.o.failures.get(envHash, this.o.now());
    if (f) throw cachedFailure(f);
  }
}

function cachedFailure(f: CachedFailure): JobFailure {
  const make = f.error.code === 'ENV_PROVISION_TIMEOUT' ? JobErrors.envProvisionTimeout : JobErrors.envProvisionFailed;
  return new JobFailure(
    make(`${f.error.message} [cached failure from ${new Date(f.failedAt).toISOString()}; not retried until ${new Date(f.until).toISOString()}]`, f.error.traceback),
  );
}
