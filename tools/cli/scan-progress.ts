/**
 * The progress of a running scan on the terminal (stderr). The total is not
 * known until the walk ends, so it is a live counter, not a bar: redrawn in
 * place on a TTY, plain lines at most every `everyMs` otherwise.
 */
import type { SubmitScanResponse } from '../../services/gen/casparian/v1/sentinel';
import type { ProgressOptions } from './progress';

export type ScanCounts = Pick<SubmitScanResponse, 'matched' | 'enqueued' | 'skipped' | 'errors'>;

export class ScanProgressView {
  private readonly started: number;
  private lastLine = 0;
  private shown = false;

  constructor(
    private readonly root: string,
    private readonly o: ProgressOptions,
  ) {
    this.started = this.now();
  }

  update(n: ScanCounts): void {
    if (this.o.tty) {
      this.shown = true;
      this.o.write(`\r\x1b[K${this.render(n)}`);
    } else if (this.now() - this.lastLine >= (this.o.everyMs ?? 5_000)) {
      this.lastLine = this.now();
      this.o.write(`${this.render(n)}\n`);
    }
  }

  /** Clear the TTY line (the summary follows on stdout). */
  finish(): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K');
  }

  render(n: ScanCounts): string {
    const secs = Math.max(0.001, (this.now() - this.started) / 1000);
    return `scanning ${this.root}: ${n.matched} files matched (${(n.matched / secs).toFixed(0)}/s), ${n.enqueued} enqueued, ${n.skipped} unchanged${n.errors ? `, ${n.errors} errors` : ''}`;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/** The one-line summary of a finished scan. */
export function scanSummary(root: string, s: SubmitScanResponse): string {
  const batch = s.batchId ? `; batch ${s.batchId} (casparian jobs --batch ${s.batchId})` : '';
  const interrupted = s.interrupted ? ' — interrupted: the Sentinel is shutting down; scan again for the rest' : '';
  return `scanned ${root}: ${s.matched} files matched, ${s.enqueued} enqueued, ${s.skipped} unchanged, ${s.errors} errors${batch}${interrupted}`;
}
