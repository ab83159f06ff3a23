/**
 * The worker's own check of an attempt's input, right before its guest
 * starts: the path is resolved through every symlink, must be a regular file,
 * and (when the worker has --input-root) must lie inside one of its roots.
 * The guest gets the resolved path, so a symlink swapped after the check (or
 * after the Sentinel's check at submit) cannot send it elsewhere. Whoever can
 * still rename directories along the resolved path inside a root can race
 * the guest's open; that is inside the roots by definition.
 */
import * as crypto from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { JobErrors, type JobError } from '../../common/job-error';
import { isInside } from '../../common/paths';

async function realRoot(root: string): Promise<string> {
  return fs.realpath(root).catch(() => root);
}

export async function resolveInput(inputPath: string, roots: readonly string[] | undefined): Promise<{ path: string } | { error: JobError }> {
  let real: string;
  try {
    real = await fs.realpath(inputPath);
    const st = await fs.stat(real);
    if (!st.isFile()) return { error: JobErrors.inputMissing(`input ${inputPath} is not a regular file`) };
  } catch (err) {
    return { error: JobErrors.inputMissing(`input ${inputPath} cannot be read: ${(err as Error).message}`) };
  }
  if (roots && roots.length > 0) {
    const resolvedRoots = await Promise.all(roots.map(realRoot));
    if (!resolvedRoots.some((r) => isInside(r, real))) {
      return {
        error: JobErrors.inputOutsideRoots(
          `input ${inputPath} resolves to ${real}, outside this worker's input roots (${roots.join(', ')}); start the worker with --input-root to allow another directory`,
        ),
      };
    }
  }
  return { path: real };
}

/** Lowercase hex SHA-256 of a file's bytes (the `_cf_source_hash` lineage column), read in a stream. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(piece as Buffer);
  return hash.digest('hex');
}
