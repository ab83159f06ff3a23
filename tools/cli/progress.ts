/**
 * The progress of a batch on the terminal: one bar redrawn in place on a TTY
 * (done/failed/running, rate, ETA), plain lines at most every `everyMs`
 * otherwise (logs, CI). Written to stderr so stdout stays for results.
 */
import type { JobCounts } from '../../services/gen/casparian/v1/sentinel';
import { finalOf } from './batches';

export interface ProgressOptions {
  tty: boolean;
  write: (s: string) => void;
  now?: () => number;
  /** Least time between two plain lines (default 5 s). */
  everyMs?: number;
}

export class ProgressView {
  private readonly started: number;
  private lastLine = 0;
  private last: JobCounts | undefined;

  constructor(private readonly o: ProgressOptions) {
    this.started = this.now();
  }

  update(n: JobCounts): void {
    this.last = n;
    if (this.o.tty) this.o.write(`\r\x1b[K${this.render(n, true)}`);
    else if (this.now() - this.lastLine >= (this.o.everyMs ?? 5_000)) this.line(n);
  }

  /** The final state: the bar ends with a newline; plain output gets a last line. */
  finish(): void {
    if (!this.last) return;
    if (this.o.tty) this.o.write(`\r\x1b[K${this.render(this.last, true)}\n`);
    else this.line(this.last);
  }

  render(n: JobCounts, bar: boolean): string {
    const done = finalOf(n);
    const secs = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = done / secs;
    const left = n.total - done;
    const eta = left === 0 ? '' : rate > 0 ? `, ETA ${formatSecs(left / rate)}` : '';
    const width = 24;
    const filled = n.total ? Math.round((width * done) / n.total) : width;
    const head = bar ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const bad = n.failed + n.deadLetter + n.cancelled;
    const parts = [`${n.succeeded} succeeded`, ...(bad ? [`${n.failed} failed`, ...(n.deadLetter ? [`${n.deadLetter} dead-lettered`] : []), ...(n.cancelled ? [`${n.cancelled} cancelled`] : [])] : [])];
    return `${head}${done}/${n.total} done: ${parts.join(', ')}; ${n.running} running, ${n.queued} queued; ${rate.toFixed(1)} jobs/s${eta}`;
  }

  private line(n: JobCounts): void {
    this.lastLine = this.now();
    this.o.write(`${this.render(n, false)}\n`);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

function formatSecs(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
