/**
 * The worker's record of one child of a fork server: its pid, the exit status
 * the server reports for it, the output the server relays, and whoever is
 * listening (the run the child serves now). Created by ForkServer when the
 * server answers a FORK; a reusable child serves one run after another.
 */
import type { GuestExit } from './guest-handle';
import { OUTPUT_TAIL_BYTES } from './guest-process';
import { TailBuffer } from './tail-buffer';

export interface ChildListener {
  onExit(exit: GuestExit): void;
  onLost(reason: string): void;
}

export class ForkedChild {
  /** Set when the server reported the child's exit. */
  exit: GuestExit | undefined;
  /** Set when the server died first: the exit status will never be known. */
  lost: string | undefined;
  /** Settles on `exit` or `lost`. */
  readonly ended: Promise<void>;
  /** The current run's tails (a new pair for each run of a reusable child). */
  stdoutTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  stderrTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  private listener: ChildListener | undefined;
  private settle!: () => void;

  constructor(
    /** Also its process group id: the child calls setsid(). */
    readonly pid: number,
    /** Forked for isolation `reuse`: it waits for RUN after each job. */
    readonly reusable: boolean,
  ) {
    this.ended = new Promise<void>((resolve) => (this.settle = resolve));
  }

  get alive(): boolean {
    return this.exit === undefined && this.lost === undefined;
  }

  /** Whether a run listens to this child now. */
  get attached(): boolean {
    return this.listener !== undefined;
  }

  attach(listener: ChildListener): void {
    this.listener = listener;
  }

  detach(): void {
    this.listener = undefined;
  }

  /** A reusable child starts its next run: fresh tails. */
  nextRun(): void {
    this.stdoutTail = new TailBuffer(OUTPUT_TAIL_BYTES);
    this.stderrTail = new TailBuffer(OUTPUT_TAIL_BYTES);
  }

  // --- reported by the server -------------------------------------------------

  output(stream: 'stdout' | 'stderr', bytes: Buffer): void {
    (stream === 'stdout' ? this.stdoutTail : this.stderrTail).push(bytes);
  }

  exited(exit: GuestExit): void {
    if (!this.alive) return;
    this.exit = exit;
    this.settle();
    this.listener?.onExit(exit);
  }

  orphaned(reason: string): void {
    if (!this.alive) return;
    this.lost = reason;
    this.settle();
    this.listener?.onLost(reason);
  }
}
