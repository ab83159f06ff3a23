/**
 * The worker isolation levels that rows 1, 2, 3 and 7b are measured at. Adding a
 * level is one word in ISOLATION_LEVELS. A level is passed to the worker as
 * `--isolation=LEVEL` when the CLI has that flag; before it did, the only
 * behaviour was `spawn`, which then needs no flag.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { Variant } from './types';

export const ISOLATION_LEVELS: readonly string[] = ['spawn', 'fork', 'reuse'];

/** Whether `casparian worker` takes --isolation (read from `casparian help worker`; an older CLI prints its global help for that, which listed it too). */
export function cliHasIsolationFlag(root: string): boolean {
  const help = execFileSync(process.execPath, [path.join(root, 'dist', 'tools', 'casparian.js'), 'help', 'worker'], { encoding: 'utf8' });
  return /--isolation\b/.test(help);
}

/** The variants for the levels asked for; throws for a level this worker cannot run. */
export function isolationVariants(levels: readonly string[], hasFlag: boolean): Variant[] {
  return levels.map((level) => {
    if (hasFlag) return { name: level, workerFlags: { isolation: level } };
    if (level === 'spawn') return { name: level, workerFlags: {} };
    throw new Error(`isolation level "${level}": this worker has no --isolation flag (only spawn exists)`);
  });
}
