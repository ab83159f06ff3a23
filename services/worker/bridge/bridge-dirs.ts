/**
 * Private bridge directories: `${TMPDIR}/casparian-bridge-{pid}-XXXXXX`
 * (mode 0700, holding the guest's socket), and each fork server's home and
 * cwd, `${TMPDIR}/casparian-forkserver-{pid}-XXXXXX`. The owning worker
 * removes its own after each run or server; a worker that was SIGKILLed
 * cannot, so every worker sweeps the directories of dead owners when it
 * starts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../../common/logger';
import { pidAlive } from '../envs/file-lock';

const OWNED = /^casparian-(?:bridge|forkserver)-(\d+)-/;

export function bridgeDirPrefix(): string {
  return path.join(os.tmpdir(), `casparian-bridge-${process.pid}-`);
}

export function forkServerDirPrefix(): string {
  return path.join(os.tmpdir(), `casparian-forkserver-${process.pid}-`);
}

/** Remove bridge directories whose owning process is gone. Returns what was removed. */
export function sweepStaleBridgeDirs(logger: Logger, tmp = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = OWNED.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const dir = path.join(tmp, name);
    try {
      if (uid !== undefined && fs.lstatSync(dir).uid !== uid) continue; // not ours to remove
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch (err) {
      logger.warn('could not remove a stale bridge directory', { dir, error: (err as Error).message });
    }
  }
  if (removed.length) logger.info('removed bridge directories of dead workers', { count: removed.length });
  return removed;
}
