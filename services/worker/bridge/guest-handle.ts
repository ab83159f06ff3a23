/**
 * The contract between a bridge run and the process that runs its guest,
 * whoever started that process: `spawn` (a child of the worker,
 * guest-process.ts) or a fork server (a child of the server,
 * forked-guest.ts). Interfaces only.
 *
 * Invariants every implementation keeps:
 *  - the guest leads its own process group (pid = pgid), so `terminate` can
 *    kill everything the plugin started with one kill(-pgid);
 *  - `exit` is set, and `onExit` called once, when the guest's exit status is
 *    known; `exited` settles then, or when it can never be known (`onLost`);
 *  - stdout and stderr are kept as bounded tails, never whole.
 */
import type { TailBuffer } from './tail-buffer';
import type { TerminateResult } from './process-group';

export interface GuestExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What a guest is started with (the same for every isolation level). */
export interface GuestLaunchRequest {
  /** The env's interpreter. */
  python: string;
  /** bridge_shim.py, for a spawned guest (a fork server imports the shim beside its own script). */
  shimPath: string;
  /** The run's private directory. */
  cwd: string;
  /** The scrubbed per-job environment (guest-env.ts), bridge socket and token included. */
  env: Record<string, string>;
  /** The guest's exit status is known (called at most once). */
  onExit: (exit: GuestExit) => void;
  /** The interpreter could not be started (ENOENT, EACCES...). */
  onSpawnError: (e: Error) => void;
  /** The guest's exit status can never be known: the fork server it runs under died. */
  onLost: (reason: string) => void;
  onOtherError?: (e: Error) => void;
}

export interface GuestHandle {
  /** The guest's pid, which is also its process group id; undefined if it never started. */
  readonly pid: number | undefined;
  /** Set once the guest has exited. */
  readonly exit: GuestExit | undefined;
  /** Settles when the guest has exited, failed to start, or was lost. */
  readonly exited: Promise<void>;
  readonly stdoutTail: TailBuffer;
  readonly stderrTail: TailBuffer;
  /** Kill the whole group (SIGTERM, SIGKILL after graceMs) and wait for the exit (and, when spawned, for the pipes). */
  terminate(graceMs: number): Promise<TerminateResult | 'never-started'>;
  /**
   * After a verdict: keep the live guest for another job instead of ending it
   * (isolation `reuse`). True when it was kept; the run must then neither
   * wait for its exit nor terminate it. Absent: never kept.
   */
  release?(): boolean;
}

/**
 * Starts a guest. Resolves with its handle; rejects with a JobFailure when
 * the attempt cannot go on (the fork server died while forking it) and with
 * any other error for a host fault.
 */
export type LaunchGuest = (req: GuestLaunchRequest) => Promise<GuestHandle>;
