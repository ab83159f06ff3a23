/**
 * The uv backend and the provisioning machinery (single flight, locks, crash
 * recovery, timeouts, failure cache, gc, link, doctor), through the stand-in
 * uv in test/fixtures/fake-uv put on the manager's PATH (never on
 * process.env). The stand-in installs real packages with pip into a run-wide
 * cache and hard-links them into envs, so pyarrow is installed once per run.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobFailure } from '../../services/common/job-error';
import { silentLogger } from '../../services/common/logger';
import { envHashOf, shortHash } from '../../services/worker/envs/env-hash';
import { EnvLinkRefused } from '../../services/worker/envs/env-link';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { pidAlive } from '../../services/worker/envs/file-lock';
import type { EnvChange, EnvManagerConfig, EnvManagerDeps } from '../../services/worker/envs/types';
import { testIndexUrl } from '../helpers/pip-index';
import { PYARROW_LOCKFILE, REPO_ROOT, testHome } from '../helpers/python-env';

const FAKE_UV_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'fake-uv');
const PYARROW = fs.readFileSync(PYARROW_LOCKFILE, 'utf8');
/** Same packages, a different env hash. */
const variant = (name: string) => `# variant: ${name}\n${PYARROW}`;
const UV_LOCK = `version = 1
requires-python = ">=3.8"

[[package]]
name = "casparian-test-plugin"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "pyarrow" }]

[[package]]
name = "pyarrow"
version = "25.0.1"
source = { registry = "https://pypi.org/simple" }
`;

interface UvCall {
  argv: string[];
  cwd: string;
  pid: number;
  UV_PROJECT_ENVIRONMENT: string | null;
}

describe('envs: uv backend and provisioning machinery (stand-in uv)', function () {
  this.timeout(180_000);
  let root: string;
  let home: string;
  let uvLog: string;
  const children: ChildProcess[] = [];

  function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${FAKE_UV_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
      FAKE_UV_LOG: uvLog,
      FAKE_UV_CACHE: path.join(testHome(), 'fake-uv-cache'),
      ...extra,
    };
  }
  function config(h: string, cfg: Partial<EnvManagerConfig> = {}): EnvManagerConfig {
    return {
      home: h,
      mode: 'auto',
      basePython: 'python3',
      indexUrl: testIndexUrl(),
      installTimeoutMs: 120_000,
      lockWaitTimeoutMs: 120_000,
      failureCacheMs: 60_000,
      logger: silentLogger,
      ...cfg,
    };
  }
  function manager(cfg: Partial<EnvManagerConfig> = {}, deps: EnvManagerDeps = {}): EnvManager {
    return new EnvManager(config(cfg.home ?? home, cfg), { env: childEnv(), lockPollMs: 50, ...deps });
  }
  function uvCalls(envHash?: string): UvCall[] {
    if (!fs.existsSync(uvLog)) return [];
    const calls = fs
      .readFileSync(uvLog, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as UvCall);
    return envHash ? calls.filter((c) => JSON.stringify(c).includes(`.tmp-${shortHash(envHash)}-`)) : calls;
  }
  const venvCalls = (envHash: string) => uvCalls(envHash).filter((c) => c.argv[0] === 'venv' || c.argv[0] === 'sync');
  async function failure(p: Promise<unknown>): Promise<JobFailure> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof JobFailure, `expected a JobFailure, got ${String(err)}`);
      return err;
    }
    assert.fail('expected the call to fail');
  }
  function importsPyarrow(python: string): string {
    return execFileSync(python, ['-I', '-c', 'import pyarrow; print(pyarrow.__version__)'], { encoding: 'utf8' }).trim();
  }
  /** A node process that acquires one env through the compiled EnvManager and prints the outcome as JSON. */
  function acquireInChild(h: string, lockfile: string, env: NodeJS.ProcessEnv): ChildProcess & { result: Promise<Record<string, unknown>> } {
    const script = `
      const { EnvManager } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/services/worker/envs/env-manager.js'))});
      const { silentLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/services/common/logger.js'))});
      const cfg = JSON.parse(process.env.TEST_ENV_CFG);
      const m = new EnvManager({ ...cfg, logger: silentLogger }, { lockPollMs: 50 });
      m.acquire(process.env.TEST_ENV_HASH, process.env.TEST_LOCKFILE).then(
        (l) => { console.log(JSON.stringify({ provisioned: l.provisioned, backend: l.backend, python: l.python })); l.release(); },
        (e) => { console.log(JSON.stringify({ error: e.message, code: e.jobError && e.jobError.code })); process.exitCode = 1; });
    `;
    const { logger: _l, ...cfg } = config(h);
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...env, TEST_ENV_CFG: JSON.stringify(cfg), TEST_ENV_HASH: envHashOf(lockfile), TEST_LOCKFILE: lockfile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const result = new Promise<Record<string, unknown>>((resolve) => child.on('close', () => resolve(JSON.parse(out.trim().split('\n').pop() || '{}'))));
    return Object.assign(child, { result });
  }
  async function waitFor(cond: () => boolean, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting for a condition');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(() => {
    root = fs.mkdtempSync(path.join(testHome(), 'envs-uv-'));
    home = path.join(root, 'home');
    uvLog = path.join(root, 'fake-uv.jsonl');
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('uses uv when it is on PATH: uv venv + uv pip sync, recorded in the marker', async () => {
    const lock = variant('uv-basic');
    const hash = envHashOf(lock);
    const lease = await manager().acquire(hash, lock);
    assert.equal(lease.backend, 'uv');
    assert.equal(lease.provisioned, true);
    const calls = uvCalls(hash);
    assert.equal(calls.length, 2);
    const tmp = path.dirname(calls[0].argv[1]);
    assert.match(path.basename(tmp), new RegExp(`^\\.tmp-${shortHash(hash)}-${process.pid}-[0-9a-f]+$`));
    assert.deepEqual(calls[0].argv, ['venv', path.join(tmp, 'env'), '--python', 'python3']);
    const index = testIndexUrl() ? ['--index-url', testIndexUrl()!] : [];
    assert.deepEqual(calls[1].argv, ['pip', 'sync', path.join(tmp, 'requirements.txt'), '--python', path.join(tmp, 'env', 'bin', 'python'), ...index]);
    const marker = JSON.parse(fs.readFileSync(path.join(home, 'venvs', hash, '.casparian-env.json'), 'utf8'));
    assert.equal(marker.backend, 'uv');
    assert.equal(marker.lockfileKind, 'requirements');
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    assert.equal(fs.existsSync(tmp), false);
    lease.release();
  });

  it('passes --require-hashes for a hash-pinned lockfile (a wrong hash fails the install)', async () => {
    const lock = 'pyarrow==25.0.1 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n';
    const hash = envHashOf(lock);
    const f = await failure(manager().acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_PROVISION_FAILED');
    assert.ok(uvCalls(hash)[1].argv.includes('--require-hashes'));
    assert.match(f.jobError.traceback ?? '', /DO NOT MATCH THE HASHES/);
  });

  it('8 concurrent acquire() calls for a new env lead to exactly one install', async () => {
    const lock = variant('concurrent-8');
    const hash = envHashOf(lock);
    const m = manager();
    const t0 = Date.now();
    const leases = await Promise.all(Array.from({ length: 8 }, () => m.acquire(hash, lock)));
    console.log(`      8 concurrent acquires of one new env (uv stand-in, cached wheel): ${Date.now() - t0} ms`);
    assert.equal(venvCalls(hash).length, 1);
    assert.equal(new Set(leases.map((l) => l.python)).size, 1);
    assert.ok(leases.every((l) => l.provisioned), 'every caller joined the one install');
    const journal = fs.readFileSync(path.join(home, 'venvs', '.logs', 'installs.jsonl'), 'utf8');
    assert.equal(journal.split('\n').filter((l) => l.includes(hash) && l.includes('"start"')).length, 1);
    assert.equal(m.inventory().find((e) => e.envHash === hash)?.inUse, 8);
    leases.forEach((l) => l.release());
    assert.equal(m.inventory().find((e) => e.envHash === hash)?.inUse, 0);
  });

  it('two processes racing for the same env lead to one install', async () => {
    const lock = variant('two-processes');
    const hash = envHashOf(lock);
    const a = acquireInChild(home, lock, childEnv());
    const b = acquireInChild(home, lock, childEnv());
    const results = await Promise.all([a.result, b.result]);
    assert.deepEqual(results.map((r) => r.error), [undefined, undefined]);
    assert.deepEqual(results.map((r) => r.provisioned).sort(), [false, true]);
    assert.equal(venvCalls(hash).length, 1);
    assert.equal(importsPyarrow(String(results[0].python)), '25.0.1');
  });

  it('a waiter gives up with ENV_PROVISION_TIMEOUT naming the install it waited for', async () => {
    const lock = variant('lock-wait');
    const hash = envHashOf(lock);
    const holder = spawn('sleep', ['30']);
    children.push(holder);
    fs.mkdirSync(path.join(home, 'venvs'), { recursive: true });
    fs.writeFileSync(path.join(home, 'venvs', `${hash}.lock`), JSON.stringify({ pid: holder.pid, host: os.hostname(), startedAt: 'then' }));
    try {
      const f = await failure(manager({ lockWaitTimeoutMs: 700 }).acquire(hash, lock));
      assert.equal(f.jobError.code, 'ENV_PROVISION_TIMEOUT');
      assert.match(f.message, new RegExp(`^waited 1 s for another install of ${hash} \\(pid ${holder.pid}`));
      assert.equal(venvCalls(hash).length, 0);
    } finally {
      holder.kill('SIGKILL');
      fs.rmSync(path.join(home, 'venvs', `${hash}.lock`), { force: true });
    }
  });

  it('a worker killed mid-install: its leftovers are removed and the next acquire rebuilds cleanly', async () => {
    const lock = variant('killed-mid-install');
    const hash = envHashOf(lock);
    const child = acquireInChild(home, lock, childEnv({ FAKE_UV_SLEEP: '60' }));
    await waitFor(() => venvCalls(hash).length === 1);
    const uvPid = venvCalls(hash)[0].pid;
    child.kill('SIGKILL');
    await child.result.catch(() => undefined);
    process.kill(-uvPid, 'SIGKILL'); // the orphaned install group (a real crash would leave it running too)
    const venvs = path.join(home, 'venvs');
    assert.equal(fs.readdirSync(venvs).filter((n) => n.startsWith(`.tmp-${shortHash(hash)}-`)).length, 1, 'a half-built temp dir is left');
    assert.equal(fs.existsSync(path.join(venvs, `${hash}.lock`)), true, 'a stale lock is left');

    const m = manager();
    await m.init();
    assert.deepEqual(fs.readdirSync(venvs).filter((n) => n.startsWith('.tmp-')), [], 'init removed the leftover');
    assert.equal(m.inventory().some((e) => e.envHash === hash), false, 'the half-built env is not listed');
    const lease = await m.acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(venvCalls(hash).length, 2);
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    lease.release();
  });

  it('a half-built env without marker is reported broken, refused in strict mode and rebuilt in auto mode', async () => {
    const lock = variant('no-marker');
    const hash = envHashOf(lock);
    const dir = path.join(home, 'venvs', hash);
    execFileSync('python3', ['-m', 'venv', '--without-pip', dir]);
    const strict = manager({ mode: 'strict' });
    const broken: EnvChange[] = [];
    strict.onChange((c) => broken.push(c));
    const inv = await strict.init();
    const e = inv.find((x) => x.envHash === hash)!;
    assert.equal(e.status, 'broken');
    assert.match(e.problem ?? '', /no marker/);
    assert.deepEqual(broken.map((c) => [c.kind, c.env.envHash]), [['broken', hash]]);
    const f = await failure(strict.acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_MISSING');
    const lease = await manager().acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, '.casparian-env.json'), 'utf8')).envHash, hash);
    lease.release();
  });

  it('an env whose interpreter lost pyarrow fails the startup self-check and is rebuilt', async () => {
    const lock = variant('uv-basic');
    const hash = envHashOf(lock);
    const site = execFileSync(path.join(home, 'venvs', hash, 'bin', 'python'), ['-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: 'utf8' }).trim();
    fs.rmSync(path.join(site, 'pyarrow'), { recursive: true, force: true });
    const m = manager();
    const inv = await m.init();
    const e = inv.find((x) => x.envHash === hash)!;
    assert.equal(e.status, 'broken');
    assert.match(e.problem ?? '', /cannot import pyarrow/);
    const strict = manager({ mode: 'strict' });
    await strict.init();
    const f = await failure(strict.acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_MISSING');
    assert.match(f.message, /cannot import pyarrow/);
    const lease = await m.acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    lease.release();
  });

  it('provisions a uv.lock with uv sync --frozen into the temp env', async () => {
    const hash = envHashOf(UV_LOCK);
    const lease = await manager().acquire(hash, UV_LOCK);
    const calls = uvCalls(hash);
    assert.equal(calls.length, 1);
    const index = testIndexUrl() ? ['--index-url', testIndexUrl()!] : [];
    assert.deepEqual(calls[0].argv, ['sync', '--frozen', '--no-install-project', '--no-dev', '--python', 'python3', ...index]);
    assert.equal(path.basename(calls[0].cwd), 'project');
    assert.equal(calls[0].UV_PROJECT_ENVIRONMENT, path.join(path.dirname(calls[0].cwd), 'env'));
    const marker = JSON.parse(fs.readFileSync(path.join(home, 'venvs', hash, '.casparian-env.json'), 'utf8'));
    assert.deepEqual([marker.backend, marker.lockfileKind], ['uv', 'uv-lock']);
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    lease.release();
  });

  it('an install that exceeds the timeout is killed with its process group; the failure is cached', async () => {
    const lock = variant('timeout');
    const hash = envHashOf(lock);
    const pidFile = path.join(root, 'sleep.pid');
    let now = Date.parse('2025-06-01T00:00:00Z');
    const env = childEnv({ FAKE_UV_SLEEP: '60', FAKE_UV_CHILD_PID_FILE: pidFile });
    const m = new EnvManager(config(home, { installTimeoutMs: 1500, failureCacheMs: 30_000 }), { env, now: () => now });
    const t0 = Date.now();
    const f = await failure(m.acquire(hash, lock));
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(f.jobError.code, 'ENV_PROVISION_TIMEOUT');
    assert.match(f.message, /exceeded the install timeout of 2 s; the install was killed/);
    await waitFor(() => !pidAlive(Number(fs.readFileSync(pidFile, 'utf8'))), 5000);
    assert.equal(fs.existsSync(path.join(home, 'venvs', hash)), false);
    assert.deepEqual(fs.readdirSync(path.join(home, 'venvs')).filter((n) => n.startsWith('.tmp-')), []);

    now += 10_000;
    const cached = await failure(m.acquire(hash, lock));
    assert.equal(cached.jobError.code, 'ENV_PROVISION_TIMEOUT');
    assert.match(cached.message, /cached failure .* not retried until 2025-06-01T00:00:30/);
    assert.equal(venvCalls(hash).length, 1, 'no new install while the failure is cached');

    now += 30_000; // past failureCacheMs: retried, and this time it works
    delete env.FAKE_UV_SLEEP;
    const lease = await m.acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(venvCalls(hash).length, 2);
    lease.release();
  });

  it('gc evicts least recently used envs and never one in use, by this or another manager', async () => {
    const a = manager();
    const b = manager();
    const inv = await a.init();
    assert.ok(inv.length >= 4, `expected several envs, got ${inv.length}`);
    const held = await a.acquire(envHashOf(variant('concurrent-8')), variant('concurrent-8'));
    const heldElsewhere = await b.acquire(envHashOf(variant('two-processes')), variant('two-processes'));
    const evictedEvents: string[] = [];
    a.onChange((c) => c.kind === 'evicted' && evictedEvents.push(c.env.envHash));

    const dry = await a.gc({ maxBytes: 0, maxCount: 0, dryRun: true });
    assert.ok(dry.evicted.length >= 2);
    assert.ok(dry.evicted.every((e) => fs.existsSync(e.path)), 'a dry run deletes nothing');

    const res = await a.gc({ maxBytes: 0, maxCount: 0 });
    const kept = res.kept.map((e) => e.envHash).sort();
    assert.deepEqual(kept, [held.envHash, heldElsewhere.envHash].sort());
    assert.ok(fs.existsSync(held.python) && fs.existsSync(heldElsewhere.python));
    for (const e of res.evicted) assert.equal(fs.existsSync(e.path), false);
    assert.deepEqual(evictedEvents.sort(), res.evicted.map((e) => e.envHash).sort());
    assert.equal(importsPyarrow(held.python), '25.0.1');

    held.release();
    heldElsewhere.release();
    const res2 = await a.gc({ maxBytes: 10 * 2 ** 30, maxCount: 1 });
    assert.deepEqual(res2.evicted.length, 1);
    assert.equal(res2.kept.length, 1);
  });

  it('link registers a good venv (whole directory) and refuses a bad one with the reason', async () => {
    const source = manager({ home: path.join(root, 'byo-source') });
    const lease = await source.acquire(envHashOf(variant('byo')), variant('byo'));
    lease.release();
    const venvDir = path.dirname(path.dirname(lease.python));
    const target = manager({ home: path.join(root, 'byo-home'), mode: 'strict' });
    const hash = envHashOf('my own lockfile\n');
    const info = await target.link(hash, venvDir);
    assert.equal(info.backend, 'linked');
    assert.equal(info.status, 'ready');
    assert.equal(fs.readlinkSync(path.join(root, 'byo-home', 'venvs', hash)), venvDir);
    const linked = await target.acquire(hash, 'my own lockfile\n');
    assert.equal(linked.backend, 'linked');
    assert.equal(importsPyarrow(linked.python), '25.0.1');
    linked.release();
    assert.equal((await target.init()).find((e) => e.envHash === hash)?.status, 'ready');

    const bare = path.join(root, 'bare-venv');
    execFileSync('python3', ['-m', 'venv', '--without-pip', bare]);
    const other = envHashOf('other\n');
    await assert.rejects(target.link(other, bare), (err: unknown) => {
      assert.ok(err instanceof EnvLinkRefused);
      assert.match(err.reason, /cannot import pyarrow \(ModuleNotFoundError/);
      return true;
    });
    await assert.rejects(target.link(other, path.join(root, 'nope')), /is not a directory/);
    await assert.rejects(target.link(other, root), /bin\/python does not exist/);
    await assert.rejects(target.link(hash, venvDir), /already exists/);
    assert.equal(fs.existsSync(path.join(root, 'byo-home', 'venvs', other)), false);
  });

  it('doctor checks the host and explains what is wrong with an env', async () => {
    const m = manager();
    const host = await m.doctor();
    assert.equal(host.ok, true, JSON.stringify(host.checks));
    const byName = Object.fromEntries(host.checks.map((c) => [c.name, c]));
    assert.match(byName.python.detail, /Python 3\./);
    assert.match(byName.uv.detail, new RegExp(`uv found at ${FAKE_UV_DIR}/uv`));
    assert.ok(byName['venv-module'].ok);

    const missing = await m.doctor(envHashOf('never built\n'));
    assert.equal(missing.ok, false);
    assert.match(missing.checks[0].detail, /does not exist/);

    const badIndex = await manager({ indexUrl: 'file:///nonexistent/casparian-index' }).doctor();
    assert.equal(badIndex.ok, false);
    assert.match(badIndex.checks.find((c) => c.name === 'index')!.detail, /does not exist/);

    const noPython = await manager({ basePython: '/nonexistent/python9' }).doctor();
    assert.equal(noPython.ok, false);
    assert.match(noPython.checks[0].detail, /does not run: ENOENT/);
  });
});
