/**
 * Isolation `fork` and `reuse`: the GuestHandle of a run whose guest is a
 * child of a fork server (see guest-handle.ts for the contract). The child is
 * not the worker's child: its exit status arrives from the server (EXIT), and
 * if the server dies first the run hears `onLost`. The child leads its own
 * process group, so terminate() works as for a spawned guest: kill(-pgid)
 * reaches it and everything the plugin started, whoever their parent is.
 */
import type { GuestExit, GuestHandle, GuestLaunchRequest } from './guest-handle';
import type { ForkedChild } from './forked-child';
import { terminateGroup, type TerminateResult } from './process-group';
import type { TailBuffer } from './tail-buffer';

export class ForkedGuest implements GuestHandle {
  readonly stdoutTail: TailBuffer;
  readonly stderrTail: TailBuffer;
  readonly exited: Promise<void>;

  constructor(
    private readonly child: ForkedChild,
    req: GuestLaunchRequest,
    /** Reuse: takes the live child back after a verdict; true when it was kept. */
    private readonly keep?: (child: ForkedChild) => boolean,
  ) {
    this.stdoutTail = child.stdoutTail;
    this.stderrTail = child.stderrTail;
    this.exited = child.ended;
    child.attach({ onExit: (exit) => req.onExit(exit), onLost: (reason) => req.onLost(reason) });
  }

  get pid(): number {
    return this.child.pid;
  }

  get exit(): GuestExit | undefined {
    return this.child.exit;
  }

  async terminate(graceMs: number): Promise<TerminateResult> {
    const result = await terminateGroup(this.child.pid, graceMs);
    await this.child.ended; // the server reaps the child and reports it (or is gone, and the child with it)
    this.child.detach();
    return result;
  }

  release(): boolean {
    if (!this.keep || !this.child.alive) return false;
    this.child.detach();
    return this.keep(this.child);
  }
}
