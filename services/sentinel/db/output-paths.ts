/**
 * The absolute paths in `outputs.parquet_path`, as `casparian db copy` sees
 * them. A committed output lies at `{root}/outputs/{job}/attempt-{n}/{name}.parquet`
 * where `{root}` is the Sentinel's --output-root (by default its data dir).
 * A Sentinel keeps only the attempt dirs under its own root that these paths
 * name, and removes the rest at startup: a store whose paths name another
 * root than the Sentinel's would see its outputs swept away.
 */
import * as path from 'node:path';

/** Move paths under `from` to the same place under `to` (both absolute, normalised, no trailing separator). */
export interface OutputRootRewrite {
  from: string;
  to: string;
}

/** `OLD=NEW` as a rewrite; throws a message naming what is wrong. */
export function parseOutputRootRewrite(text: string): OutputRootRewrite {
  const eq = text.indexOf('=');
  if (eq < 0) throw new Error(`expected OLD=NEW (two absolute directories), got "${text}"`);
  const [from, to] = [text.slice(0, eq), text.slice(eq + 1)];
  for (const p of [from, to]) if (!path.posix.isAbsolute(p)) throw new Error(`expected OLD=NEW with absolute directories, got "${text}"`);
  return { from: path.posix.normalize(from).replace(/(.)\/$/, '$1'), to: path.posix.normalize(to).replace(/(.)\/$/, '$1') };
}

/** `p` moved from `r.from` to `r.to`; undefined when `p` does not lie under `r.from`. */
export function rewriteOutputPath(p: string, r: OutputRootRewrite): string | undefined {
  if (r.from === '/') return path.posix.join(r.to, p);
  if (!p.startsWith(`${r.from}/`)) return undefined;
  return r.to + p.slice(r.from.length);
}

/** The output root a committed output's path lies under: what precedes `/outputs/{job}/attempt-{n}/{file}`. */
export function outputRootOf(p: string): string {
  const m = /^(.*)\/outputs\/[^/]+\/attempt-\d+\/[^/]+$/.exec(p);
  return m ? m[1] || '/' : path.posix.dirname(p);
}

/** The distinct output roots of the paths added, the first `max` of them. */
export class OutputRoots {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  add(parquetPath: string): void {
    if (this.seen.size < this.max) this.seen.add(outputRootOf(parquetPath));
  }

  list(): string[] {
    return [...this.seen].sort();
  }
}
