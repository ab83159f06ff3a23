/**
 * Provisioning machinery of the env manager, through the stand-in uv
 * (test/helpers/fake-uv.ts): one install per env however many callers and
 * processes ask, lock waits, crash recovery, half-built envs, install
 * timeouts and the failure cache.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envHashOf, shortHash } from '../../services/worker/envs/env-hash';
import { EnvManager } from '../../services/worker/envs/env-manager';
import { pidAlive } from '../../services/worker/envs/file-lock';
import type { EnvChange } from '../../services/worker/envs/types';
import { expectJobFailure } from '../helpers/env-fixtures';
import { importsPyarrow, useFakeUv, variant } from '../helpers/fake-uv';
import { waitFor } from '../helpers/wait';

describe('envs: provisioning machinery (stand-in uv)', function () {
  this.timeout(180_000);
  const u = useFakeUv('envs-provision-');

  it('8 concurrent acquire() calls for a new env lead to exactly one install', async () => {
    const lock = variant('concurrent-8');
    const hash = envHashOf(lock);
    const m = u.manager();
    const t0 = Date.now();
    const leases = await Promise.all(Array.from({ length: 8 }, () => m.acquire(hash, lock)));
    console.log(`      8 concurrent acquires of one new env (uv stand-in, cached wheel): ${Date.now() - t0} ms`);
    assert.equal(u.venvCalls(hash).length, 1);
    assert.equal(new Set(leases.map((l) => l.python)).size, 1);
    assert.ok(leases.every((l) => l.provisioned), 'every caller joined the one install');
    const journal = fs.readFileSync(path.join(u.home, 'venvs', '.logs', 'installs.jsonl'), 'utf8');
    assert.equal(journal.split('\n').filter((l) => l.includes(hash) && l.includes('"start"')).length, 1);
    assert.equal(m.inventory().find((e) => e.envHash === hash)?.inUse, 8);
    leases.forEach((l) => l.release());
    assert.equal(m.inventory().find((e) => e.envHash === hash)?.inUse, 0);
  });

  it('two processes racing for the same env lead to one install', async () => {
    const lock = variant('two-processes');
    const hash = envHashOf(lock);
    const a = u.acquireInChild(u.home, lock, u.childEnv());
    const b = u.acquireInChild(u.home, lock, u.childEnv());
    const results = await Promise.all([a.result, b.result]);
    assert.deepEqual(results.map((r) => r.error), [undefined, undefined]);
    assert.deepEqual(results.map((r) => r.provisioned).sort(), [false, true]);
    assert.equal(u.venvCalls(hash).length, 1);
    assert.equal(importsPyarrow(String(results[0].python)), '25.0.1');
  });

  it('a waiter gives up with ENV_PROVISION_TIMEOUT naming the install it waited for', async () => {
    const lock = variant('lock-wait');
    const hash = envHashOf(lock);
    const holder = u.track(spawn('sleep', ['30']));
    fs.mkdirSync(path.join(u.home, 'venvs'), { recursive: true });
    fs.writeFileSync(path.join(u.home, 'venvs', `${hash}.lock`), JSON.stringify({ pid: holder.pid, host: os.hostname(), startedAt: 'then' }));
    try {
      const f = await expectJobFailure(u.manager({ lockWaitTimeoutMs: 700 }).acquire(hash, lock));
      assert.equal(f.jobError.code, 'ENV_PROVISION_TIMEOUT');
      assert.match(f.message, new RegExp(`^waited 1 s for another install of ${hash} \\(pid ${holder.pid}`));
      assert.equal(u.venvCalls(hash).length, 0);
    } finally {
      holder.kill('SIGKILL');
      fs.rmSync(path.join(u.home, 'venvs', `${hash}.lock`), { force: true });
    }
  });

  it('a worker killed mid-install: its leftovers are removed and the next acquire rebuilds cleanly', async () => {
    const lock = variant('killed-mid-install');
    const hash = envHashOf(lock);
    const child = u.acquireInChild(u.home, lock, u.childEnv({ FAKE_UV_SLEEP: '60' }));
    await waitFor('the install to start', () => u.venvCalls(hash).length === 1, 60_000, 50);
    const uvPid = u.venvCalls(hash)[0].pid;
    child.kill('SIGKILL');
    await child.result.catch(() => undefined);
    process.kill(-uvPid, 'SIGKILL'); // the orphaned install group (a real crash would leave it running too)
    const venvs = path.join(u.home, 'venvs');
    assert.equal(fs.readdirSync(venvs).filter((n) => n.startsWith(`.tmp-${shortHash(hash)}-`)).length, 1, 'a half-built temp dir is left');
    assert.equal(fs.existsSync(path.join(venvs, `${hash}.lock`)), true, 'a stale lock is left');

    const m = u.manager();
    await m.init();
    assert.deepEqual(fs.readdirSync(venvs).filter((n) => n.startsWith('.tmp-')), [], 'init removed the leftover');
    assert.equal(m.inventory().some((e) => e.envHash === hash), false, 'the half-built env is not listed');
    const lease = await m.acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(u.venvCalls(hash).length, 2);
    assert.equal(importsPyarrow(lease.python), '25.0.1');
    lease.release();
  });

  it('a half-built env without marker is reported broken, refused in strict mode and rebuilt in auto mode', async () => {
    const lock = variant('no-marker');
    const hash = envHashOf(lock);
    const dir = path.join(u.home, 'venvs', hash);
    execFileSync('python3', ['-m', 'venv', '--without-pip', dir]);
    const strict = u.manager({ mode: 'strict' });
    const broken: EnvChange[] = [];
    strict.onChange((c) => broken.push(c));
    const inv = await strict.init();
    const e = inv.find((x) => x.envHash === hash)!;
    assert.equal(e.status, 'broken');
    assert.match(e.problem ?? '', /no marker/);
    assert.deepEqual(broken.map((c) => [c.kind, c.env.envHash]), [['broken', hash]]);
    const f = await expectJobFailure(strict.acquire(hash, lock));
    assert.equal(f.jobError.code, 'ENV_MISSING');
    const lease = await u.manager().acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, '.casparian-env.json'), 'utf8')).envHash, hash);
    lease.release();
  });

  it('an install that exceeds the timeout is killed with its process group; the failure is cached', async () => {
    const lock = variant('timeout');
    const hash = envHashOf(lock);
    const pidFile = path.join(u.root, 'sleep.pid');
    let now = Date.parse('2025-06-01T00:00:00Z');
    const env = u.childEnv({ FAKE_UV_SLEEP: '60', FAKE_UV_CHILD_PID_FILE: pidFile });
    const m = new EnvManager(u.config(u.home, { installTimeoutMs: 1500, failureCacheMs: 30_000 }), { env, now: () => now });
    const t0 = Date.now();
    const f = await expectJobFailure(m.acquire(hash, lock));
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(f.jobError.code, 'ENV_PROVISION_TIMEOUT');
    assert.match(f.message, /exceeded the install timeout of 2 s; the install was killed/);
    await waitFor('the install group to be gone', () => !pidAlive(Number(fs.readFileSync(pidFile, 'utf8'))), 5000, 50);
    assert.equal(fs.existsSync(path.join(u.home, 'venvs', hash)), false);
    assert.deepEqual(fs.readdirSync(path.join(u.home, 'venvs')).filter((n) => n.startsWith('.tmp-')), []);

    now += 10_000;
    const cached = await expectJobFailure(m.acquire(hash, lock));
    assert.equal(cached.jobError.code, 'ENV_PROVISION_TIMEOUT');
    assert.match(cached.message, /cached failure .* not retried until 2025-06-01T00:00:30/);
    assert.equal(u.venvCalls(hash).length, 1, 'no new install while the failure is cached');

    now += 30_000; // past failureCacheMs: retried, and this time it works
    delete env.FAKE_UV_SLEEP;
    const lease = await m.acquire(hash, lock);
    assert.equal(lease.provisioned, true);
    assert.equal(u.venvCalls(hash).length, 2);
    lease.release();
  });

});
