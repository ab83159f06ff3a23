/** Path helpers shared by the Sentinel's and the worker's input-root checks. */
import * as path from 'node:path';

/** Whether `p` is `root` or lies below it (both absolute and normalised); "/" contains everything. */
export function isInside(root: string, p: string): boolean {
  if (root === path.parse(root).root) return true;
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}
