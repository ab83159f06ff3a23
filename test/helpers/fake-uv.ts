/**
 * The env manager tests that use the stand-in uv (test/fixtures/fake-uv),
 * put on the manager's PATH (never on process.env). The stand-in installs
 * real packages with pip into a run-wide cache and hard-links them into envs,
 * so pyarrow is installed once per run however many envs the tests build.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { envHashOf, shortHash } from '../../services/worker/envs/env-hash';
import { EnvManager } from '../../services/worker/envs/env-manager';
import type { EnvManagerConfig, EnvManagerDeps } from '../../services/worker/envs/types';
import { envManagerConfig } from './env-fixtures';
import { testIndexUrl } from './pip-index';
import { PYARROW_LOCKFILE, REPO_ROOT, testHome } from './python-env';

export const FAKE_UV_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'fake-uv');
const FAKE_UV_KNOBS = ['FAKE_UV_LOG', 'FAKE_UV_CACHE', 'FAKE_UV_SLEEP', 'FAKE_UV_CHILD_PID_FILE', 'FAKE_UV_FAIL', 'FAKE_UV_FAIL_ON'];
export const PYARROW = fs.readFileSync(PYARROW_LOCKFILE, 'utf8');
/** Same packages, a different env hash. */
export const variant = (name: string): string => `# variant: ${name}\n${PYARROW}`;

/** One call of the stand-in, as it logs it. */
export interface UvCall {
  argv: string[];
  cwd: string;
  pid: number;
  UV_PROJECT_ENVIRONMENT: string | null;
  /** Names of the variables the install saw. */
  env_keys: string[];
}

/** The pyarrow version a python imports (throws when it cannot). */
export function importsPyarrow(python: string): string {
  return execFileSync(python, ['-I', '-c', 'import pyarrow; print(pyarrow.__version__)'], { encoding: 'utf8' }).trim();
}

export interface FakeUv {
  /** A temp dir under the run's home, for this describe block. */
  root: string;
  /** The default CASPARIAN_HOME of managers made by `manager()`. */
  home: string;
  /** The environment of managers and child processes: the stand-in first on PATH. */
  childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  config(home: string, cfg?: Partial<EnvManagerConfig>): EnvManagerConfig;
  manager(cfg?: Partial<EnvManagerConfig>, deps?: Partial<EnvManagerDeps>): EnvManager;
  /** Calls of the stand-in so far, optionally only those building `envHash`. */
  uvCalls(envHash?: string): UvCall[];
  /** The calls that create an env (`uv venv`, `uv sync`) for `envHash`. */
  venvCalls(envHash: string): UvCall[];
  /** A node process that acquires one env through the compiled EnvManager and prints the outcome as JSON. */
  acquireInChild(home: string, lockfile: string, env: NodeJS.ProcessEnv): ChildProcess & { result: Promise<Record<string, unknown>> };
  /** A child process killed (if still running) after the describe block. */
  track<T extends ChildProcess>(child: T): T;
}

/** Registers before/after hooks in the calling describe block. */
export function useFakeUv(prefix: string): FakeUv {
  const children: ChildProcess[] = [];
  const uvLog = () => path.join(u.root, 'fake-uv.jsonl');
  const u: FakeUv = {
    root: '',
    home: '',
    childEnv: (extra = {}) => ({
      ...process.env,
      PATH: `${FAKE_UV_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
      FAKE_UV_LOG: uvLog(),
      FAKE_UV_CACHE: path.join(testHome(), 'fake-uv-cache'),
      ...extra,
    }),
    // The stand-in's knobs reach it the way an operator's extra variables reach a real uv: --install-env-allow.
    config: (h, cfg = {}) =>
      envManagerConfig(h, { basePython: 'python3', indexUrl: testIndexUrl(), installTimeoutMs: 120_000, lockWaitTimeoutMs: 120_000, installEnvAllow: FAKE_UV_KNOBS, ...cfg }),
    manager: (cfg = {}, deps = {}) => new EnvManager(u.config(cfg.home ?? u.home, cfg), { lockPollMs: 50, ...deps, env: deps.env ?? u.childEnv() }),
    uvCalls: (envHash) => {
      if (!fs.existsSync(uvLog())) return [];
      const calls = fs
        .readFileSync(uvLog(), 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as UvCall);
      return envHash ? calls.filter((c) => JSON.stringify(c).includes(`.tmp-${shortHash(envHash)}-`)) : calls;
    },
    venvCalls: (envHash) => u.uvCalls(envHash).filter((c) => c.argv[0] === 'venv' || c.argv[0] === 'sync'),
    acquireInChild: (h, lockfile, env) => {
      const script = `
        const { EnvManager } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/services/worker/envs/env-manager.js'))});
        const { silentLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/services/common/logger.js'))});
        const cfg = JSON.parse(process.env.TEST_ENV_CFG);
        const m = new EnvManager({ ...cfg, logger: silentLogger }, { env: process.env, lockPollMs: 50 });
        m.acquire(process.env.TEST_ENV_HASH, process.env.TEST_LOCKFILE).then(
          (l) => { console.log(JSON.stringify({ provisioned: l.provisioned, backend: l.backend, python: l.python })); l.release(); },
          (e) => { console.log(JSON.stringify({ error: e.message, code: e.jobError && e.jobError.code })); process.exitCode = 1; });
      `;
      const { logger: _l, ...cfg } = u.config(h);
      const child = u.track(
        spawn(process.execPath, ['-e', script], {
          env: { ...env, TEST_ENV_CFG: JSON.stringify(cfg), TEST_ENV_HASH: envHashOf(lockfile), TEST_LOCKFILE: lockfile },
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const result = new Promise<Record<string, unknown>>((resolve) => child.on('close', () => resolve(JSON.parse(out.trim().split('\n').pop() || '{}'))));
      return Object.assign(child, { result });
    },
    track: (child) => (children.push(child), child),
  };
  before(() => {
    u.root = fs.mkdtempSync(path.join(testHome(), prefix));
    u.home = path.join(u.root, 'home');
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return u;
}
