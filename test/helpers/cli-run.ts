/** The compiled `casparian` CLI as a user runs it: a subprocess with the repo root as cwd. */
import { spawn } from 'node:child_process';
import { CLI } from './managed-proc';
import { REPO_ROOT } from './python-env';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Run the CLI to completion; a run that outlives `timeoutMs` is killed and
 * reported with code null. CASPARIAN_SENTINEL is removed from the environment
 * unless `env` sets it, so only --sentinel decides where a command goes.
 */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const started = Date.now();
  const env = { ...process.env, ...opts.env };
  if (!opts.env || !('CASPARIAN_SENTINEL' in opts.env)) delete env.CASPARIAN_SENTINEL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A CLI run for an assertion message. */
export function showCli(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${r.ms} ms\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
