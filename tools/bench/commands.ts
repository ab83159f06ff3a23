/**
 * A command the bench runs to completion (venv, pip, a bare python start),
 * through the worker's own runCommand so that spawning costs the same on
 * both sides of a comparison. Output is appended to a log file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand, TailBuffer } from '../../services/worker/envs/run-command';

export interface CommandOptions {
  logFile: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs the command; resolves to its wall time in ms, rejects with its output's tail when it fails. */
export async function runOrThrow(command: string, args: readonly string[], opts: CommandOptions): Promise<number> {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const tail = new TailBuffer(2048);
  const t0 = performance.now();
  const r = await runCommand(command, args, {
    env: opts.env ?? process.env,
    timeoutMs: opts.timeoutMs,
    tail,
    sink: (s) => fs.appendFileSync(opts.logFile, s),
  });
  const took = performance.now() - t0;
  if (r.code !== 0 || r.spawnError || r.timedOut) {
    const why = r.spawnError ? r.spawnError.message : r.timedOut ? `timed out after ${opts.timeoutMs / 1000} s` : `exit ${r.code ?? r.signal}`;
    throw new Error(`${path.basename(command)} ${args.slice(0, 3).join(' ')}…: ${why}\n${tail.text().trim().split('\n').slice(-5).join('\n')}`);
  }
  return took;
}

/** `--index-url URL` when the bench has one, else nothing (pip's own configuration applies). */
export const indexArgs = (indexUrl: string | undefined): string[] => (indexUrl ? ['--index-url', indexUrl] : []);
