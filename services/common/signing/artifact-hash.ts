/**
 * What identifies a plugin version's code, computed the same way by the
 * Sentinel (stored with the version), the CLI (before it signs) and the worker
 * (from what it received, before it runs anything).
 */
import * as crypto from 'node:crypto';

/** env_hash: sha256 (hex) of the lockfile bytes. */
export function envHashOfLockfile(lockfile: string | Buffer): string {
  return crypto.createHash('sha256').update(lockfile).digest('hex');
}

/**
 * artifact_hash: sha256 over source, lockfile and manifest (its canonical
 * JSON), each prefixed by its length so that moving bytes between fields
 * changes the hash.
 */
export function artifactHash(source: string, lockfile: string, manifestJson: string): string {
  const h = crypto.createHash('sha256');
  for (const part of [source, lockfile, manifestJson]) {
    const b = Buffer.from(part, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(b.length));
    h.update(len).update(b);
  }
  return h.digest('hex');
}
