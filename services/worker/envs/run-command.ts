/**
 * Runs one install command in its own process group with a deadline.
 * Output (stdout+stderr, interleaved as it arrives) goes line by line to an
 * optional listener, in full to an optional log sink, and its tail is kept
 * in memory for error reports; every line, the command line included, has
 * URL credentials redacted first (an index URL may carry them). On timeout
 * the whole group gets SIGTERM, then SIGKILL after a grace period.
 */
import { ChildProcess, spawn as nodeSpawn, SpawnOptions } from 'node:child_process';
import { redactUrlCredentials } from '../../common/redact';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  spawn?: SpawnFn;
  onLine?: (line: string) => void;
  sink?: (chunk: string) => void;
  tail?: TailBuffer;
  killGraceMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  spawnError?: Error;
  durationMs: number;
}

/** Keeps the last `max` characters written to it. */
export class TailBuffer {
  private buf = '';
  constructor(private readonly max = 8 * 1024) {}
  write(s: string): void {
    this.buf += s;
    if (this.buf.length > this.max * 2) this.buf = this.buf.slice(-this.max);
  }
  text(): string {
    return this.buf.length > this.max ? '…' + this.buf.slice(-this.max) : this.buf;
  }
}

export function runCommand(command: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const emit = (line: string, listen: boolean): void => {
    const clean = redactUrlCredentials(line);
    opts.sink?.(`${clean}\n`);
    opts.tail?.write(`${clean}\n`);
    if (listen) opts.onLine?.(clean);
  };
  emit(`$ ${[command, ...args].map(shellQuote).join(' ')}`, false);
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = (opts.spawn ?? nodeSpawn)(command, args, {
        env: opts.env,
        cwd: opts.cwd,
        detached: true, // own process group, so a timeout can kill pip/uv and their children
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      resolve({ code: null, signal: null, timedOut: false, spawnError: err as Error, durationMs: 0 });
      return;
    }
    let timedOut = false;
    let settled = false;
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const l of lines) emit(l, true);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), opts.killGraceMs ?? 3000);
    }, opts.timeoutMs);
    const finish = (r: Omit<RunResult, 'durationMs' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      if (timedOut) killGroup(child, 'SIGKILL'); // leftovers of the group, if any
      if (partial) emit(partial, true);
      resolve({ ...r, timedOut, durationMs: Date.now() - started });
    };
    child.on('error', (err) => finish({ code: null, signal: null, spawnError: err }));
    child.on('close', (code, signal) => finish({ code, signal }));
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs a short command and returns its stdout; for probes. Never throws. */
export async function capture(
  command: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; timeoutMs: number; spawn?: SpawnFn; cwd?: string },
): Promise<{ ok: boolean; stdout: string; output: string; result: RunResult }> {
  let stdout = '';
  const tail = new TailBuffer(4096);
  const spawn: SpawnFn = (c, a, o) => {
    const child = (opts.spawn ?? nodeSpawn)(c, a, o);
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    return child;
  };
  const result = await runCommand(command, args, { ...opts, spawn, tail, killGraceMs: 500 });
  const output = tail.text().replace(/^\$ .*\n/, '');
  return { ok: result.code === 0 && !result.spawnError && !result.timedOut, stdout, output, result };
}
