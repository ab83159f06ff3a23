/**
 * The scan's walk of a directory tree, streaming: directories are read with
 * fs.opendir entry by entry and files are yielded as they are found, so
 * memory holds one open directory per level and a few dozen stats in
 * flight, never the tree.
 *
 * Rules (documented in SubmitScanRequest.root):
 *   - hidden entries (a name starting with ".") are passed over, files and
 *     directories alike;
 *   - non-regular files (FIFOs, sockets, devices) are passed over;
 *   - symlinked directories are not followed (no cycles, no escape);
 *   - a symlinked file counts when its target is a regular file the
 *     `allowed` check accepts (inside the input roots), else it is an error;
 *   - a directory or file that cannot be read is an error entry; the walk
 *     goes on.
 */
import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { PathMatcher } from './scan-glob';

export type WalkEntry =
  | { kind: 'file'; path: string; size: number; mtimeUs: number }
  | { kind: 'error'; path: string; message: string };

export interface WalkOptions {
  match: PathMatcher;
  /** Whether a symlinked file may be used: its real path lies inside the input roots. */
  allowed: (filePath: string) => boolean;
}

const message = (e: unknown): string => (e as Error).message ?? String(e);

/** File and error entries under `root` (an absolute, normalised directory path), depth first. */
export async function* walkFiles(root: string, o: WalkOptions): AsyncGenerator<WalkEntry> {
  yield* walkDir(root, '', o);
}

/** Files of one directory stat'ed at once: a stat is a thread-pool round trip, ten times faster in parallel. */
const STAT_BATCH = 32;

async function* walkDir(dir: string, rel: string, o: WalkOptions): AsyncGenerator<WalkEntry> {
  let handle: AsyncIterable<Dirent>;
  try {
    handle = await fs.opendir(dir, { bufferSize: 64 });
  } catch (e) {
    yield { kind: 'error', path: dir, message: message(e) };
    return;
  }
  const it = handle[Symbol.asyncIterator]();
  let open = true;
  try {
    let pending: Promise<WalkEntry | undefined>[] = [];
    for (;;) {
      let next: IteratorResult<Dirent>;
      try {
        next = await it.next();
      } catch (e) {
        open = false;
        yield { kind: 'error', path: dir, message: message(e) };
        break;
      }
      if (next.done) {
        open = false;
        break;
      }
      const d = next.value;
      if (d.name.startsWith('.')) continue;
      const full = path.join(dir, d.name);
      const relPath = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) {
        yield* settle(pending);
        pending = [];
        yield* walkDir(full, relPath, o);
      } else if ((d.isFile() || d.isSymbolicLink()) && o.match(relPath)) {
        pending.push(fileEntry(full, d.isSymbolicLink(), o));
        if (pending.length >= STAT_BATCH) {
          yield* settle(pending);
          pending = [];
        }
      }
    }
    yield* settle(pending);
  } finally {
    // The consumer stopped early (a cancelled scan): close the directory now, not at garbage collection.
    if (open) await it.return?.().catch(() => undefined);
  }
}

async function* settle(pending: Promise<WalkEntry | undefined>[]): AsyncGenerator<WalkEntry> {
  for (const e of await Promise.all(pending)) if (e) yield e;
}

/** Never rejects: a failure is an error entry. */
async function fileEntry(full: string, symlink: boolean, o: WalkOptions): Promise<WalkEntry | undefined> {
  try {
    // bigint: mtimeNs is exact, where the double mtimeMs rounds (…123 ms reads as …122.999).
    const st = await fs.stat(full, { bigint: true });
    if (!st.isFile()) return undefined; // a symlinked directory, or a link to a FIFO…
    if (symlink && !o.allowed(full)) return { kind: 'error', path: full, message: 'symlink leads outside the input roots' };
    return { kind: 'file', path: full, size: Number(st.size), mtimeUs: Number(st.mtimeNs / 1000n) };
  } catch (e) {
    return { kind: 'error', path: full, message: message(e) };
  }
}
