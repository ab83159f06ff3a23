/**
 * Isolation `spawn`: the guest is a child of the worker, spawned detached (it
 * leads its own process group), stdin closed, stdout/stderr kept as bounded
 * tails. See guest-handle.ts for the contract.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { GuestExit, GuestHandle, GuestLaunchRequest, LaunchGuest } from './guest-handle';
import { terminateGroup, type TerminateResult } from './process-group';
import { TailBuffer } from './tail-buffer';

/** Bytes of stdout and of stderr kept per guest. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Longest wait for stdio pipes to close once the guest's group is gone. */
const STDIO_CLOSE_MS = 1000;

export class SpawnedGuest implements GuestHandle {
  readonly stdoutTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  readonly stderrTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  exit: GuestExit | undefined;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private readonly stdioClosed: Promise<void>;

  constructor(req: GuestLaunchRequest) {
    const child = spawn(req.python, [req.shimPath], {
      cwd: req.cwd,
      env: req.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
        req.onExit(this.exit);
      });
      child.on('error', (e) => {
        if (child.pid === undefined) {
          resolve(); // never started: no 'exit' will follow
          req.onSpawnError(e);
        } else {
          req.onOtherError?.(e);
        }
      });
    });
    this.stdioClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdout!.on('data', (c: Buffer) => this.stdoutTail.push(c));
    child.stderr!.on('data', (c: Buffer) => this.stderrTail.push(c));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

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

/** `{python} {shimPath}` as a child of the worker: isolation `spawn`, and every other level's fallback. */
export const spawnGuestProcess: LaunchGuest = async (req) => new SpawnedGuest(req);

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
