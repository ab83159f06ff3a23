/**
 * casparian scan --watch: scan once, then scan again `debounceMs` after the
 * tree last changed (chokidar: one watch per directory), until SIGINT or
 * SIGTERM. File identity on the Sentinel makes each scan queue only new and
 * changed files. A change during a scan schedules one more scan after it. A
 * failed re-scan (the Sentinel restarting, say) is reported and the watch
 * goes on; a failure of the first scan ends the command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import chokidar from 'chokidar';
import type { SubmitScanResponse } from '../../services/gen/casparian/v1/sentinel';
import { UsageError } from './usage';

export interface WatchScansOptions {
  root: string;
  debounceMs: number;
  scan(signal: AbortSignal): Promise<SubmitScanResponse>;
  report(s: SubmitScanResponse): void;
  error(message: string): void;
}

const hidden = (root: string) => (p: string): boolean => path.relative(root, p).split(path.sep).some((s) => s.startsWith('.'));

export async function watchScans(o: WatchScansOptions): Promise<number> {
  if (!fs.statSync(o.root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--watch needs ${o.root} to be a directory on this machine (the CLI watches it; the Sentinel scans it)`);
  }
  const ac = new AbortController();
  const watcher = chokidar.watch(o.root, { ignoreInitial: true, followSymlinks: false, ignored: hidden(o.root) });
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    ac.abort();
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const run = async (): Promise<void> => {
    try {
      o.report(await o.scan(ac.signal));
    } catch (e) {
      if (ac.signal.aborted) return;
      const err = e as { details?: string; message?: string };
      o.error(err.details ?? err.message ?? String(e));
    }
  };
  const fire = (): void => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = run().finally(() => {
      running = undefined;
      if (again && !ac.signal.aborted) {
        again = false;
        fire();
      }
    });
  };
  try {
    await new Promise<void>((resolve, reject) => watcher.once('ready', resolve).once('error', reject));
    watcher.on('all', () => {
      if (ac.signal.aborted) return;
      clearTimeout(timer);
      timer = setTimeout(fire, o.debounceMs);
    });
    watcher.on('error', (e) => o.error(`watching ${o.root}: ${(e as Error).message}`));
    // The first scan: a failure (unknown plugin, root outside the input roots…) ends the command.
    try {
      o.report(await o.scan(ac.signal));
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    }
    await stopped;
    return 0;
  } finally {
    onSignal();
    clearTimeout(timer);
    await watcher.close();
    await running;
  }
}
