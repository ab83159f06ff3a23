/**
 * A cross-process lock file, one per env hash: `${venvs}/${hash}.lock`.
 *
 * Taking it is `open(path, 'wx')` (O_CREAT|O_EXCL, atomic on local
 * filesystems) with `{pid, host, startedAt}` written inside. A lock whose
 * owner is on this host and whose pid is dead is stale. Breaking a stale lock
 * is itself serialised by a short-lived `${path}.break` lock: the breaker
 * re-reads the lock under it and removes it only if it still names the same
 * dead owner, so two waiters can never both break and one delete the other's
 * fresh lock. A `.break` file older than 30 s (its owner died in the few
 * milliseconds it is held) is removed.
 *
 * Limits: a pid reused by an unrelated process keeps a stale lock alive until
 * the waiter's timeout; locks held from another host are never broken.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

export interface HeldLock {
  path: string;
  release(): void;
}

export type LockAttempt = { acquired: true; lock: HeldLock } | { acquired: false; owner?: LockOwner };

const BREAK_STALE_MS = 30_000;

export function readOwner(lockPath: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a pid names a live process (a zombie, which some container inits never reap, counts as dead). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no procfs (macOS): kill(0) said it exists
  }
}

function isStale(owner: LockOwner | undefined, lockPath: string, now: number): boolean {
  if (!owner) {
    // Unreadable: the owner may be between open() and write(); stale only once old.
    try {
      return now - fs.statSync(lockPath).mtimeMs > 10_000;
    } catch {
      return false;
    }
  }
  return owner.host === os.hostname() && !pidAlive(owner.pid);
}

function create(lockPath: string, now: number): HeldLock | undefined {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: new Date(now).toISOString() };
  try {
    fs.writeSync(fd, JSON.stringify(owner));
  } finally {
    fs.closeSync(fd);
  }
  let released = false;
  return {
    path: lockPath,
    release() {
      if (released) return;
      released = true;
      const cur = readOwner(lockPath);
      if (cur && cur.pid === owner.pid && cur.startedAt === owner.startedAt) fs.rmSync(lockPath, { force: true });
    },
  };
}

function breakIfStale(lockPath: string, now: number): boolean {
  const breakPath = `${lockPath}.break`;
  let fd: number;
  try {
    fd = fs.openSync(breakPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (now - fs.statSync(breakPath).mtimeMs > BREAK_STALE_MS) fs.rmSync(breakPath, { force: true });
    } catch {
      /* gone */
    }
    return false;
  }
  try {
    fs.closeSync(fd);
    if (!fs.existsSync(lockPath)) return true;
    if (!isStale(readOwner(lockPath), lockPath, now)) return false;
    fs.rmSync(lockPath, { force: true });
    return true;
  } finally {
    fs.rmSync(breakPath, { force: true });
  }
}

/** One non-blocking attempt: take the lock, breaking it first if its owner is dead. */
export function tryLock(lockPath: string, now: number = Date.now()): LockAttempt {
  const lock = create(lockPath, now);
  if (lock) return { acquired: true, lock };
  const owner = readOwner(lockPath);
  if (isStale(owner, lockPath, now) && breakIfStale(lockPath, now)) {
    const again = create(lockPath, now);
    if (again) return { acquired: true, lock: again };
  }
  return { acquired: false, owner: readOwner(lockPath) ?? owner };
}
