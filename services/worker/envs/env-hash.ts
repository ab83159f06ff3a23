/**
 * Environment identity. An env hash is the sha256 (lowercase hex) of the
 * plugin's lockfile bytes; the env lives at `${home}/venvs/${envHash}`.
 */
import * as crypto from 'node:crypto';

const ENV_HASH_RE = /^[0-9a-f]{64}$/;

/** sha256 hex of the lockfile bytes (a string is hashed as UTF-8). */
export function envHashOf(lockfile: Buffer | string): string {
  return crypto.createHash('sha256').update(lockfile).digest('hex');
}

/** True for a well-formed env hash; anything else must never become a path. */
export function isEnvHash(s: string): boolean {
  return ENV_HASH_RE.test(s);
}

/** A short form for log lines and temp directory names. */
export function shortHash(envHash: string): string {
  return envHash.slice(0, 12);
}
