/**
 * The guest Python process: spawned detached (it leads its own process
 * group), stdin closed, stdout/stderr kept as bounded tails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { terminateGroup, type TerminateResult } from './process-group';
import { TailBuffer } from './tail-buffer';

/** Bytes of stdout and of stderr kept per guest. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Longest wait for stdio pipes to close once the guest's group is gone. */
const STDIO_CLOSE_MS = 1000;

export interface GuestExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GuestProcessOptions {
  python: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** The process ended (exit) — not called when it never started. */
  onExit: (exit: GuestExit) => void;
  /** The process could not be started (ENOENT, EACCES...). */
  onSpawnError: (e: Error) => void;
  onOtherError?: (e: Error) => void;
}

export class GuestProcess {
  readonly stdoutTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  readonly stderrTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  exit?: GuestExit;
  /** Settles when the process has exited or failed to start. */
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private readonly stdioClosed: Promise<void>;

  constructor(opts: GuestProcessOptions) {
    const child = spawn(opts.python, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
        opts.onExit(this.exit);
      });
      child.on('error', (e) => {
        if (child.pid === undefined) {
          resolve(); // never started: no 'exit' will follow
          opts.onSpawnError(e);
        } else {
          opts.onOtherError?.(e);
        }
      });
    });
    this.stdioClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdout!.on('data', (c: Buffer) => this.stdoutTail.push(c));
    child.stderr!.on('data', (c: Buffer) => this.stderrTail.push(c));
  }

  /** The pid, which is also the process group id; undefined if it never started. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Kill the whole group (SIGTERM, SIGKILL after graceMs) and wait for the exit and the pipes. */
  async terminate(graceMs: number): Promise<TerminateResult | 'never-started'> {
    const pid = this.child.pid;
    if (pid === undefined) return 'never-started';
    const result = await terminateGroup(pid, graceMs);
    await this.exited;
    await settledWithin(this.stdioClosed, STDIO_CLOSE_MS);
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    return result;
  }
}

/** Wait for p, but at most ms; true when p settled in time. The timer never outlives the wait. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
