/**
 * The worker's environment manager: hands out leases on `${home}/venvs/{hash}`
 * envs, provisioning missing ones in auto mode.
 *
 * Invariants:
 *  - An env is used only if its marker is valid (env-marker.ts) and the
 *    startup self-check did not find it broken.
 *  - One install per hash per host: concurrent acquire() calls in a process
 *    share one in-flight promise; processes serialise on `${hash}.lock`
 *    (file-lock.ts) and re-check for a finished env before building.
 *  - A failed install is cached for `failureCacheMs` (failure-cache.ts).
 *  - gc never evicts an env leased by a live process (env-leases.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../common/job-error';
import { activeWorkDirs, removeDir } from './env-build';
import { doctorEnv, doctorHost, DoctorCheck, DoctorDeps } from './env-doctor';
import { planGc } from './env-gc';
import { envHashOf, isEnvHash, shortHash } from './env-hash';
import { describeEnv, listEnvHashes, StoredEnv } from './env-inventory';
import { EnvLeases } from './env-leases';
import { linkEnv } from './env-link';
import { readMarker, touchMarker } from './env-marker';
import { EnvPaths, scratchOwnerPid } from './env-paths';
import { EnvProvisioner } from './env-provisioner';
import { FailureCache } from './failure-cache';
import { pidAlive, tryLock } from './file-lock';
import type { SpawnFn } from './run-command';
import type { EnvChange, EnvInfo, EnvLease, EnvManagerConfig, EnvManagerDeps } from './types';
import { which as whichOnPath } from './which';

export class EnvManager {
  private readonly paths: EnvPaths;
  private readonly now: () => number;
  private readonly env: Readonly<NodeJS.ProcessEnv>;
  private readonly which: (name: string) => string | undefined;
  private readonly spawn?: SpawnFn;
  private readonly provisioner: EnvProvisioner;
  private readonly leases: EnvLeases;
  private readonly known = new Map<string, StoredEnv>();
  /** Envs whose marker is valid but whose interpreter failed the self-check, keyed by hash → marker createdAt. */
  private readonly verifiedBroken = new Map<string, string>();
  private readonly listeners = new Set<(c: EnvChange) => void>();

  constructor(
    private readonly cfg: EnvManagerConfig,
    deps: EnvManagerDeps,
  ) {
    this.paths = new EnvPaths(cfg.home);
    this.now = deps.now ?? Date.now;
    this.env = deps.env;
    this.which = deps.which ?? ((name) => whichOnPath(name, this.env.PATH));
    this.spawn = deps.spawn;
    this.provisioner = new EnvProvisioner({
      paths: this.paths,
      lockWaitTimeoutMs: cfg.lockWaitTimeoutMs,
      pollMs: deps.lockPollMs ?? 250,
      failures: new FailureCache(this.paths.logs, cfg.failureCacheMs),
      now: this.now,
      logger: cfg.logger,
      build: {
        paths: this.paths,
        basePython: cfg.basePython,
        indexUrl: cfg.indexUrl,
        installTimeoutMs: cfg.installTimeoutMs,
        env: this.env,
        spawn: this.spawn,
        which: this.which,
        now: this.now,
        logger: cfg.logger,
        installEnvAllow: cfg.installEnvAllow,
      },
      isReady: (h) => this.readyState(h) === true,
    });
    this.leases = new EnvLeases(this.paths.venvs);
  }

  get venvsDir(): string {
    return this.paths.venvs;
  }

  /** Removes leftovers of dead installs, verifies every env (marker, interpreter, pyarrow) and returns the inventory. */
  async init(): Promise<EnvInfo[]> {
    fs.mkdirSync(this.paths.venvs, { recursive: true });
    for (const name of fs.readdirSync(this.paths.venvs)) {
      const pid = scratchOwnerPid(name);
      if (pid === undefined) continue;
      const dir = path.join(this.paths.venvs, name);
      if (pid === process.pid ? activeWorkDirs.has(dir) : pidAlive(pid)) continue;
      this.cfg.logger.info('removing leftover of an interrupted install', { dir: name, ownerPid: pid });
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const described = await Promise.all(
      listEnvHashes(this.paths).map((h) => describeEnv(this.paths, h, { verify: true, env: this.env, spawn: this.spawn })),
    );
    for (const e of described) {
      this.known.set(e.envHash, e);
      if (e.status === 'broken') {
        const m = readMarker(this.paths.venvs, e.envHash);
        if (m.ok) this.verifiedBroken.set(e.envHash, m.marker.createdAt);
        this.cfg.logger.warn('env is broken and will not be used', { envHash: shortHash(e.envHash), problem: e.problem });
        this.emit('broken', e);
      }
    }
    return this.inventory();
  }

  inventory(): EnvInfo[] {
    return [...this.known.values()]
      .map((e) => ({ ...e, inUse: this.leases.count(e.envHash) }))
      .sort((a, b) => a.envHash.localeCompare(b.envHash));
  }

  onChange(listener: (change: EnvChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A lease on the env for `envHash`, provisioning it from `lockfile` in auto
   * mode. Throws JobFailure (class env): ENV_MISSING (strict mode),
   * ENV_PROVISION_FAILED, ENV_PROVISION_TIMEOUT.
   */
  async acquire(envHash: string, lockfile: string, opts: { log?: (line: string) => void } = {}): Promise<EnvLease> {
    const t0 = this.now();
    if (!isEnvHash(envHash)) throw provisionFailed(`invalid env hash "${envHash}": expected 64 lowercase hex characters`);
    const actual = envHashOf(lockfile);
    if (actual !== envHash) {
      throw provisionFailed(`lockfile does not match env hash: expected ${envHash}, the lockfile hashes to ${actual}`);
    }
    let provisioned = false;
    const state = this.readyState(envHash);
    if (state !== true) {
      if (this.cfg.mode === 'strict') throw this.missing(envHash, state);
      provisioned = await this.provisioner.ensure(envHash, lockfile, opts.log);
      this.verifiedBroken.delete(envHash);
      this.noteReady(envHash);
    }
    return this.lease(envHash, provisioned, t0);
  }

  /** Registers an existing venv directory for `envHash`; throws EnvLinkRefused with the reason. */
  async link(envHash: string, venvDir: string): Promise<EnvInfo> {
    await linkEnv(this.paths, envHash, venvDir, { env: this.env, spawn: this.spawn, now: this.now() });
    this.verifiedBroken.delete(envHash);
    const info = await describeEnv(this.paths, envHash, { env: this.env });
    this.known.set(envHash, info);
    this.cfg.logger.info('env linked', { envHash: shortHash(envHash), target: venvDir });
    const full = { ...info, inUse: this.leases.count(envHash) };
    this.emit('added', info);
    return full;
  }

  /**
   * LRU eviction under the caps; never an env leased by a live process.
   * `beforeEvict` runs before an env is removed (the worker stops the env's
   * fork server there); the env is kept if a lease appears meanwhile.
   */
  async gc(opts: { maxBytes: number; maxCount: number; dryRun?: boolean; beforeEvict?: (envHash: string) => Promise<void> }): Promise<{ evicted: EnvInfo[]; kept: EnvInfo[] }> {
    const onDisk = listEnvHashes(this.paths);
    for (const h of [...this.known.keys()]) if (!onDisk.includes(h)) this.known.delete(h);
    for (const h of onDisk) {
      const d = await describeEnv(this.paths, h, { env: this.env });
      this.known.set(h, this.isVerifiedBroken(h) ? { ...d, status: 'broken', problem: this.known.get(h)?.problem ?? 'failed the self-check' } : d);
    }
    const all = this.inventory().map((e) => (this.leases.heldAnywhere(e.envHash) ? { ...e, inUse: Math.max(1, e.inUse) } : e));
    const plan = planGc(all, opts);
    if (opts.dryRun) return { evicted: plan.evict, kept: plan.keep };
    const evicted: EnvInfo[] = [];
    const kept = [...plan.keep];
    for (const e of plan.evict) {
      if (opts.beforeEvict && !this.leases.heldAnywhere(e.envHash)) await opts.beforeEvict(e.envHash);
      const attempt = tryLock(this.paths.lock(e.envHash));
      if (!attempt.acquired || this.leases.heldAnywhere(e.envHash)) {
        if (attempt.acquired) attempt.lock.release();
        kept.push(e);
        continue;
      }
      try {
        removeDir(this.paths, e.envHash, this.paths.env(e.envHash));
        fs.rmSync(this.paths.linkMarker(e.envHash), { force: true });
      } finally {
        attempt.lock.release();
      }
      this.known.delete(e.envHash);
      this.verifiedBroken.delete(e.envHash);
      evicted.push(e);
      this.cfg.logger.info('env evicted', { envHash: shortHash(e.envHash), sizeBytes: e.sizeBytes, lastUsedAt: e.lastUsedAt, status: e.status });
      this.emit('evicted', e);
    }
    return { evicted, kept };
  }

  /** Host checks, or the checks of one env. */
  async doctor(envHash?: string): Promise<{ ok: boolean; checks: DoctorCheck[] }> {
    const d: DoctorDeps = { paths: this.paths, basePython: this.cfg.basePython, indexUrl: this.cfg.indexUrl, env: this.env, spawn: this.spawn, which: this.which };
    const checks = envHash === undefined ? await doctorHost(d) : await doctorEnv(d, envHash);
    return { ok: checks.every((c) => c.ok), checks };
  }

  // ---- internals

  /** true when usable; otherwise why not. */
  private readyState(envHash: string): true | string {
    const m = readMarker(this.paths.venvs, envHash);
    if (!m.ok) return m.problem;
    if (this.verifiedBroken.get(envHash) === m.marker.createdAt) {
      return this.known.get(envHash)?.problem ?? 'it failed the startup self-check';
    }
    return true;
  }

  private isVerifiedBroken(envHash: string): boolean {
    return this.verifiedBroken.has(envHash) && this.readyState(envHash) !== true;
  }

  private missing(envHash: string, why: string): JobFailure {
    const where = this.paths.env(envHash);
    const what = why === 'not present' ? `env ${envHash} is not on this worker (looked for ${where})` : `env ${envHash} at ${where} is unusable: ${why}`;
    return new JobFailure(
      JobErrors.envMissing(
        `${what}; this worker is in strict mode and never provisions. Fix: run \`casparian env provision --lockfile LOCKFILE\` ` +
          `on this host, or \`casparian env link ${envHash} VENV_DIR\`, or run the worker with --env-mode auto`,
      ),
    );
  }

  /** Records a ready env in the inventory from its marker (sync), announcing it if new. */
  private noteReady(envHash: string): void {
    const m = readMarker(this.paths.venvs, envHash);
    if (!m.ok) return;
    const prev = this.known.get(envHash);
    const info: StoredEnv = {
      envHash,
      path: this.paths.env(envHash),
      status: 'ready',
      backend: m.marker.backend,
      pythonVersion: m.marker.pythonVersion,
      pyarrowVersion: m.marker.pyarrowVersion,
      createdAt: m.marker.createdAt,
      lastUsedAt: new Date(m.mtimeMs).toISOString(),
      sizeBytes: prev?.createdAt === m.marker.createdAt ? prev.sizeBytes : undefined,
    };
    this.known.set(envHash, info);
    if (!prev || prev.status !== 'ready' || prev.createdAt !== info.createdAt) {
      if (prev?.createdAt !== info.createdAt) void this.updateSize(envHash);
      this.emit('added', info);
    }
  }

  private async updateSize(envHash: string): Promise<void> {
    try {
      const d = await describeEnv(this.paths, envHash, { env: this.env });
      const cur = this.known.get(envHash);
      if (cur && cur.createdAt === d.createdAt) cur.sizeBytes = d.sizeBytes;
    } catch {
      /* size is informational */
    }
  }

  private lease(envHash: string, provisioned: boolean, t0: number): EnvLease {
    if (!this.known.has(envHash) || this.known.get(envHash)!.status !== 'ready') this.noteReady(envHash);
    const info = this.known.get(envHash)!;
    this.leases.take(envHash);
    this.touch(envHash);
    let released = false;
    return {
      envHash,
      python: this.paths.python(envHash),
      provisioned,
      durationMs: this.now() - t0,
      backend: info.backend,
      release: () => {
        if (released) return;
        released = true;
        this.leases.drop(envHash);
        this.touch(envHash);
      },
    };
  }

  private touch(envHash: string): void {
    const at = new Date(this.now());
    touchMarker(this.paths.venvs, envHash, at);
    const e = this.known.get(envHash);
    if (e) e.lastUsedAt = at.toISOString();
  }

  private emit(kind: EnvChange['kind'], env: StoredEnv): void {
    const change: EnvChange = { kind, env: { ...env, inUse: this.leases.count(env.envHash) } };
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.cfg.logger.warn('env change listener threw', { error: (err as Error).message });
      }
    }
  }
}

function provisionFailed(message: string, traceback?: string): JobFailure {
  return new JobFailure(JobErrors.envProvisionFailed(message, traceback));
}
