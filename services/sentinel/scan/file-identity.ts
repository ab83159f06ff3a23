/**
 * File identity: size + mtime + sha256 of the content. Size and mtime are a
 * cheap first test (no read); the hash decides when they differ, so a file
 * touched without a change in content is not processed again.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';

/** The identity recorded at the last scan of a file (scanned_files), as far as the decision needs it. */
export interface KnownIdentity {
  size: number;
  mtime_us: number;
  sha256: string;
}

/** 'unchanged': same size and mtime, skipped without reading; 'hash': read it, then sameContent() decides. */
export function quickCheck(known: KnownIdentity | undefined, seen: { size: number; mtimeUs: number }): 'unchanged' | 'hash' {
  return known && known.size === seen.size && known.mtime_us === seen.mtimeUs ? 'unchanged' : 'hash';
}

/** Whether a hashed file has the recorded content (then it is skipped, and its new mtime recorded). */
export function sameContent(known: KnownIdentity | undefined, sha256: string): boolean {
  return known !== undefined && known.sha256 === sha256;
}

const READ_BYTES = 64 * 1024;

/** sha256 (hex) of a file's content, read in 64 KiB pieces. */
export async function sha256File(file: string): Promise<string> {
  const fh = await fs.open(file, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(READ_BYTES);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_BYTES, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}
