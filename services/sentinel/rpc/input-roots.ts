/**
 * Input roots: a submitted input path must lie inside one of the configured
 * directories, so a client cannot have workers read files it was never meant
 * to (another user's home, /etc). Paths are normalised first ("..") and, when
 * the file is visible to the Sentinel, resolved through symlinks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInside as inside } from '../../common/paths';
import { permissionDenied } from '../../common/rpc-error';

function realOrSame(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

export function checkInputRoots(inputPath: string, roots: readonly string[]): void {
  const normal = path.normalize(inputPath);
  const real = realOrSame(normal);
  const ok = roots.some((r) => inside(r, normal) && inside(realOrSame(r), real));
  if (!ok) {
    throw permissionDenied(
      `input_path ${normal} is outside the Sentinel's input roots (${roots.join(', ')}); start the Sentinel with --input-root to allow another directory`,
    );
  }
}
