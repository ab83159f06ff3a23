/**
 * The output bookkeeping of one guest run: which output ARROW frames belong
 * to, which outputs have begun and ended, and whether DONE is consistent
 * with them. Pure; throws FrameError for every protocol violation.
 *
 * OUTPUT_BEGIN {name} makes `name` the current output; the same name may be
 * begun again later (a continuation of an interleaved output) until its
 * OUTPUT_END, which comes once per name.
 */
import { FrameError } from './frames';
import type { DoneMessage, OutputSummary } from './guest-messages';

export class OutputTracker {
  private current: string | null = null;
  private readonly begun: string[] = [];
  private readonly ended = new Map<string, OutputSummary>();

  /** Returns true for the first begin of a name, false for a continuation. */
  begin(name: string): boolean {
    if (this.ended.has(name)) throw new FrameError(`OUTPUT_BEGIN for output "${name}" after its OUTPUT_END`);
    this.current = name;
    if (this.begun.includes(name)) return false;
    this.begun.push(name);
    return true;
  }

  /** The output an ARROW frame belongs to. */
  arrowTarget(): string {
    if (this.current === null) throw new FrameError('ARROW frame outside of an output (no OUTPUT_BEGIN)');
    return this.current;
  }

  end(summary: OutputSummary): void {
    const { name } = summary;
    if (!this.begun.includes(name)) throw new FrameError(`OUTPUT_END for output "${name}" that never began`);
    if (this.ended.has(name)) throw new FrameError(`OUTPUT_END for output "${name}" sent twice`);
    this.ended.set(name, summary);
    if (this.current === name) this.current = null;
  }

  /** DONE is valid only when every begun output has ended and it lists exactly those. */
  checkDone(done: DoneMessage): void {
    const open = this.begun.filter((n) => !this.ended.has(n));
    if (open.length > 0) throw new FrameError(`DONE while outputs are still open: ${open.join(', ')}`);
    const ours = [...this.ended.keys()].sort();
    const theirs = done.outputs.map((o) => o.name).sort();
    if (ours.length !== theirs.length || ours.some((n, i) => n !== theirs[i])) {
      throw new FrameError('DONE lists other outputs than those ended with OUTPUT_END');
    }
  }

  /** Ended outputs, in order of first appearance. */
  summaries(): OutputSummary[] {
    return this.begun.filter((n) => this.ended.has(n)).map((n) => this.ended.get(n)!);
  }
}
