/**
 * Isolation `reuse`: the idle reusable guests of this worker, keyed by env
 * and plugin version (a guest only ever runs jobs of one plugin version, so
 * plugins never see each other's module state). At most `max` are kept
 * (one per slot is enough); the least recently used beyond that is killed.
 * An idle guest that exits, or whose server goes away, leaves the pool.
 */
import type { ForkServer } from './fork-server';
import type { ForkedChild } from './forked-child';
import { signalGroup } from './process-group';

export interface IdleGuest {
  key: string;
  server: ForkServer;
  child: ForkedChild;
}

export class ReusePool {
  /** Oldest first. */
  private idle: IdleGuest[] = [];

  constructor(private readonly max: number) {}

  get size(): number {
    return this.idle.length;
  }

  /** The most recently used idle guest for `key` whose server is still up, out of the pool. */
  take(key: string): IdleGuest | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const g = this.idle[i];
      if (g.key !== key) continue;
      this.idle.splice(i, 1);
      if (g.child.alive && g.server.state === 'ready') return g;
    }
    return undefined;
  }

  /** Keep a guest that ended its run with a verdict; false when it cannot be kept. */
  put(g: IdleGuest): boolean {
    if (!g.child.alive || g.server.state !== 'ready' || this.max <= 0) return false;
    this.idle.push(g);
    void g.child.ended.then(() => this.remove(g));
    while (this.idle.length > this.max) {
      const oldest = this.idle.shift()!;
      signalGroup(oldest.child.pid, 'SIGKILL'); // its server reaps it
    }
    return true;
  }

  /** Forget every idle guest (their server stops them). */
  clear(): void {
    this.idle = [];
  }

  private remove(g: IdleGuest): void {
    const i = this.idle.indexOf(g);
    if (i >= 0) this.idle.splice(i, 1);
  }
}
