/**
 * Memory of a service process, from /proc (Linux): VmRSS now, VmHWM (the
 * peak resident set since start or since the last reset), and a sampler that
 * keeps the largest VmRSS it saw, for kernels where the peak cannot be reset.
 */
import * as fs from 'node:fs';

export interface Mem {
  rssBytes: number;
  hwmBytes: number;
}

/** VmRSS and VmHWM of a live process, or undefined when it is gone or /proc is not there. */
export function memOf(pid: number): Mem | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current VmRSS (`echo 5 > clear_refs`); false when the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS of some processes every `everyMs` until stopped; keeps each one's largest. */
export class RssSampler {
  private readonly max = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: Record<string, number>,
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const m = memOf(pid);
      if (m && !(m.rssBytes <= (this.max.get(name) ?? -1))) this.max.set(name, m.rssBytes);
    }
  }

  /** Stops sampling; the largest VmRSS seen per name (NaN when never read). */
  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return Object.fromEntries(Object.keys(this.pids).map((n) => [n, this.max.get(n) ?? NaN]));
  }
}
