/**
 * Builds one env while the caller holds the hash's lock:
 *   work dir `.tmp-*` → write lockfile → run the backend's commands under one
 *   deadline → probe (runs + imports pyarrow, version matches the lockfile's
 *   requirement) → write the marker LAST → rename env/ into `${venvs}/${hash}`
 *   → probe again at the final path.
 * Any failure removes the work dir and throws a JobFailure (class env) whose
 * traceback is the tail of the install log; the full log is `.logs/{hash}.log`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../common/job-error';
import type { Logger } from '../../common/logger';
import { shortHash } from './env-hash';
import { MARKER_FILE, EnvMarker, MARKER_FORMAT, writeMarker } from './env-marker';
import { EnvPaths } from './env-paths';
import { cleanPythonEnv, probeBasePython, probeEnvPython } from './env-probe';
import type { InstallPlan, PlanInput } from './install-plan';
import { inspectLockfile, LockfileInfo } from './lockfile-info';
import { planPip } from './provision-pip';
import { planUv } from './provision-uv';
import { satisfies } from './python-spec';
import { runCommand, SpawnFn, TailBuffer } from './run-command';

export interface BuildContext {
  paths: EnvPaths;
  basePython: string;
  indexUrl?: string;
  installTimeoutMs: number;
  env: NodeJS.ProcessEnv;
  spawn?: SpawnFn;
  which: (name: string) => string | undefined;
  now: () => number;
  logger: Logger;
  onLine?: (line: string) => void;
  /** Host variables an install may see besides INSTALL_ENV_BASE. */
  installEnvAllow?: readonly string[];
}

/**
 * What pip and uv see of the host's environment: enough to find and reach a
 * package index (PATH, HOME for their config files, locale, proxies, CA
 * bundles, the index settings), nothing else. An sdist's build code runs
 * inside the install, so the worker's secrets must not be there. Other
 * variables (PIP_*, UV_* settings, a uv.toml) only when the operator lists
 * them (--install-env-allow).
 */
export const INSTALL_ENV_BASE: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE',
  'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST', 'PIP_FIND_LINKS', 'PIP_CONFIG_FILE', 'PIP_CERT', 'PIP_NO_INDEX',
  'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_DEFAULT_INDEX', 'UV_INDEX', 'UV_FIND_LINKS', 'UV_CONFIG_FILE', 'UV_NATIVE_TLS',
  'XDG_CONFIG_HOME', 'XDG_CONFIG_DIRS', 'XDG_CACHE_HOME',
];

export function installEnv(host: NodeJS.ProcessEnv, allow: readonly string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of [...INSTALL_ENV_BASE, ...allow]) if (host[k] !== undefined) out[k] = host[k];
  return cleanPythonEnv(out);
}

/** Work dirs of installs running in this process (any manager instance); init() never removes these. */
export const activeWorkDirs = new Set<string>();

const fail = (message: string, traceback?: string) => new JobFailure(JobErrors.envProvisionFailed(message, traceback));

export function appendJournal(paths: EnvPaths, entry: Record<string, unknown>): void {
  try {
    fs.mkdirSync(paths.logs, { recursive: true });
    fs.appendFileSync(paths.journal(), JSON.stringify({ pid: process.pid, ...entry }) + '\n');
  } catch {
    /* the journal is an audit aid, never a reason to fail */
  }
}

/** Removes a directory by renaming it away first, so its path disappears atomically. */
export function removeDir(paths: EnvPaths, envHash: string, dir: string): void {
  if (!fs.lstatSync(dir, { throwIfNoEntry: false })) return;
  const trash = paths.newTrash(envHash);
  try {
    fs.renameSync(dir, trash);
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  fs.rmSync(trash, { recursive: true, force: true });
}

export function checkPython(info: LockfileInfo, version: string, what: string): string | undefined {
  if (!info.python || satisfies(version, info.python)) return undefined;
  return `the lockfile needs Python ${info.python.text} but ${what} is Python ${version}`;
}

export async function buildEnv(ctx: BuildContext, envHash: string, lockfile: string): Promise<EnvMarker> {
  const started = ctx.now();
  let info: LockfileInfo;
  try {
    info = inspectLockfile(lockfile);
  } catch (err) {
    throw fail(`lockfile of env ${envHash} is invalid: ${(err as Error).message}`);
  }

  const base = await probeBasePython(ctx.basePython, { env: ctx.env, spawn: ctx.spawn });
  if (!base.ok) throw fail(`cannot provision env ${envHash}: ${base.problem} (set --python / CASPARIAN_PYTHON)`);
  const mismatch = checkPython(info, base.version, `the base interpreter "${ctx.basePython}"`);
  if (mismatch) throw fail(`cannot provision env ${envHash}: ${mismatch}; choose another with --python / CASPARIAN_PYTHON`);

  const work = ctx.paths.newTemp(envHash);
  const envDir = path.join(work, 'env');
  const input: PlanInput = { basePython: ctx.basePython, envDir, workDir: work, lockfile, info, indexUrl: ctx.indexUrl };
  const uv = ctx.which('uv');
  let plan: InstallPlan;
  try {
    plan = uv ? planUv(uv, input) : planPip(input);
  } catch (err) {
    throw fail(`cannot provision env ${envHash}: ${(err as Error).message}`);
  }

  const log = ctx.logger.scope({ envHash: shortHash(envHash), backend: plan.backend });
  log.info('provisioning env', { backend: plan.backend, uv: uv ?? null, basePython: ctx.basePython, pythonVersion: base.version, lockfileKind: info.kind });
  fs.mkdirSync(ctx.paths.logs, { recursive: true });
  fs.mkdirSync(work, { recursive: true });
  activeWorkDirs.add(work);
  const logFd = fs.openSync(ctx.paths.log(envHash), 'w');
  const sink = (s: string) => fs.writeSync(logFd, s);
  const tail = new TailBuffer(8 * 1024);
  sink(`# install of env ${envHash} by pid ${process.pid} at ${new Date(started).toISOString()} (backend ${plan.backend})\n`);
  appendJournal(ctx.paths, { event: 'start', envHash, backend: plan.backend, at: new Date(started).toISOString() });

  try {
    for (const f of plan.files) {
      fs.mkdirSync(path.dirname(f.path), { recursive: true });
      fs.writeFileSync(f.path, f.content);
    }
    const deadline = Date.now() + ctx.installTimeoutMs;
    for (const step of plan.steps) {
      const r = await runCommand(step.command, step.args, {
        env: { ...installEnv(ctx.env, ctx.installEnvAllow), PIP_DISABLE_PIP_VERSION_CHECK: '1', ...step.env },
        cwd: step.cwd,
        timeoutMs: Math.max(1, deadline - Date.now()),
        spawn: ctx.spawn,
        onLine: ctx.onLine,
        sink,
        tail,
      });
      if (r.timedOut) {
        throw new JobFailure(
          JobErrors.envProvisionTimeout(
            `installing env ${envHash} (${plan.backend}) exceeded the install timeout of ${Math.round(ctx.installTimeoutMs / 1000)} s; the install was killed. Log: ${ctx.paths.log(envHash)}`,
            tail.text(),
          ),
        );
      }
      if (r.spawnError || r.code !== 0) {
        const why = r.spawnError ? `could not start (${(r.spawnError as NodeJS.ErrnoException).code ?? r.spawnError.message})` : `exited with ${r.code ?? r.signal}`;
        throw fail(`installing env ${envHash} (${plan.backend}) failed: \`${path.basename(step.command)} ${step.args.slice(0, 2).join(' ')}\` ${why}. Log: ${ctx.paths.log(envHash)}`, tail.text());
      }
    }

    const probe = await probeEnvPython(path.join(envDir, 'bin', 'python'), { env: ctx.env, spawn: ctx.spawn });
    if (!probe.ok) throw fail(`env ${envHash} was installed but is not usable: ${probe.problem}`, tail.text());
    const envMismatch = checkPython(info, probe.pythonVersion!, `the new env's interpreter`);
    if (envMismatch) throw fail(`env ${envHash}: ${envMismatch}`, tail.text());

    const marker: EnvMarker = {
      formatVersion: MARKER_FORMAT,
      envHash,
      backend: plan.backend,
      pythonVersion: probe.pythonVersion!,
      pyarrowVersion: probe.pyarrowVersion!,
      createdAt: new Date(ctx.now()).toISOString(),
      basePython: ctx.basePython,
      installMs: ctx.now() - started,
      lockfileKind: info.kind,
      lockfile,
    };
    writeMarker(path.join(envDir, MARKER_FILE), marker);

    const final = ctx.paths.env(envHash);
    if (fs.lstatSync(final, { throwIfNoEntry: false })) removeDir(ctx.paths, envHash, final); // a broken leftover
    fs.renameSync(envDir, final);

    const after = await probeEnvPython(ctx.paths.python(envHash), { env: ctx.env, spawn: ctx.spawn });
    if (!after.ok) {
      removeDir(ctx.paths, envHash, final);
      throw fail(`env ${envHash} stopped working after it was moved into place: ${after.problem}`, tail.text());
    }
    sink(`# done in ${ctx.now() - started} ms\n`);
    appendJournal(ctx.paths, { event: 'done', envHash, backend: plan.backend, durationMs: ctx.now() - started });
    log.info('env provisioned', { durationMs: ctx.now() - started, pythonVersion: marker.pythonVersion, pyarrowVersion: marker.pyarrowVersion });
    return marker;
  } catch (err) {
    const code = err instanceof JobFailure ? err.jobError.code : 'INTERNAL';
    sink(`# failed: ${(err as Error).message}\n`);
    appendJournal(ctx.paths, { event: 'failed', envHash, backend: plan.backend, code, durationMs: ctx.now() - started });
    log.warn('env provisioning failed', { code, error: (err as Error).message });
    if (err instanceof JobFailure) throw err;
    throw fail(`installing env ${envHash} failed: ${(err as Error).message}`, tail.text());
  } finally {
    fs.closeSync(logFd);
    fs.rmSync(work, { recursive: true, force: true });
    activeWorkDirs.delete(work);
  }
}
