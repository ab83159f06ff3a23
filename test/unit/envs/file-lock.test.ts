import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readOwner, tryLock } from '../../../services/worker/envs/file-lock';

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('envs/file-lock', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-lock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is exclusive and names its owner', () => {
    const p = path.join(dir, 'h.lock');
    const a = tryLock(p);
    assert.equal(a.acquired, true);
    const b = tryLock(p);
    assert.equal(b.acquired, false);
    assert.equal(!b.acquired && b.owner?.pid, process.pid);
    if (a.acquired) a.lock.release();
    assert.equal(fs.existsSync(p), false);
    const c = tryLock(p);
    assert.equal(c.acquired, true);
    if (c.acquired) c.lock.release();
  });

  it('breaks a lock whose owner pid is dead', () => {
    const p = path.join(dir, 'h.lock');
    const pid = deadPid();
    fs.writeFileSync(p, JSON.stringify({ pid, host: os.hostname(), startedAt: 'x' }));
    const a = tryLock(p);
    assert.equal(a.acquired, true);
    assert.equal(readOwner(p)?.pid, process.pid);
    assert.equal(fs.existsSync(`${p}.break`), false);
  });

  it('does not break a live owner, nor one on another host', () => {
    const p = path.join(dir, 'h.lock');
    fs.writeFileSync(p, JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 'x' }));
    assert.equal(tryLock(p).acquired, false);
    fs.writeFileSync(p, JSON.stringify({ pid: deadPid(), host: 'elsewhere', startedAt: 'x' }));
    assert.equal(tryLock(p).acquired, false);
  });

  it('breaks an unreadable lock only once it is old', () => {
    const p = path.join(dir, 'h.lock');
    fs.writeFileSync(p, '');
    assert.equal(tryLock(p).acquired, false);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(p, old, old);
    assert.equal(tryLock(p).acquired, true);
  });

  it('release never removes a lock someone else took over', () => {
    const p = path.join(dir, 'h.lock');
    const a = tryLock(p);
    assert.ok(a.acquired);
    fs.writeFileSync(p, JSON.stringify({ pid: 1, host: os.hostname(), startedAt: 'other' }));
    a.lock.release();
    assert.equal(readOwner(p)?.startedAt, 'other');
  });
});
