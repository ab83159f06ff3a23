/**
 * Servers left by test processes that died without cleaning up (kill -9, a
 * signal): each private cluster's directory names the process that made it,
 * and the next run stops the server and removes the directory once that
 * process is gone. A clean exit never leaves one (mocha-hooks, process 'exit').
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sleep } from './wait';

/** Prefix of the clusters' temporary directories under os.tmpdir(). */
export const PG_DIR_PREFIX = 'casparian-pg-';
/** File in that directory holding the pid of the test process that made it. */
export const OWNER_FILE = 'owner.pid';

/** Stops and removes the clusters of dead test processes. Best effort: errors are ignored. */
export async function sweepPgLeftovers(): Promise<void> {
  let names: string[];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(PG_DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(os.tmpdir(), name);
    try {
      const owner = readPid(path.join(dir, OWNER_FILE));
      if (owner === undefined || isAlive(owner)) continue;
      const postmaster = readPid(path.join(dir, 'data', 'postmaster.pid'));
      if (postmaster !== undefined && isPostgres(postmaster)) {
        process.kill(postmaster, 'SIGQUIT'); // immediate shutdown; children go with it
        for (let i = 0; i < 50 && isAlive(postmaster); i++) await sleep(100);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // another user's directory, or one being removed meanwhile
    }
  }
}

/** The number on a file's first line (both pid files start with the pid). */
function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process runs. A zombie does not: a postmaster that pg_ctl
 * daemonized is reparented, and in a container whose init does not reap it,
 * it stays a zombie after its exit.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'; // gone meanwhile; else no /proc: trust kill(0)
  }
}

/** Guards against a reused pid: only a process named postgres is signalled. */
function isPostgres(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    return false;
  }
}
