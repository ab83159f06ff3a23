/**
 * The output volume failing under a commit (full, over quota, read-only, an
 * I/O error) is neither the plugin's fault nor a lost worker: it becomes
 * SINK_FULL, retryable with backoff, naming the volume and its free space,
 * and it never counts toward the plugin's circuit breaker.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { JobErrors, JobFailure } from '../../common/job-error';

/** The Parquet helper reported an I/O error (its errno name is in the message). */
export class SinkIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SinkIoError';
  }
}

const IO_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EFBIG']);

function ioCode(err: unknown): string | undefined {
  if (err instanceof SinkIoError) return /\b(E[A-Z]+)\b/.exec(err.message)?.[1] ?? 'EIO';
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && IO_CODES.has(code) ? code : undefined;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** "1.2 MB free of 40.0 MB" on the volume of `dir` (or of its parent, when it is not there yet), or why it is unknown. */
async function freeSpace(dir: string): Promise<string> {
  try {
    const s = await fs.statfs(dir).catch(() => fs.statfs(path.dirname(dir)));
    return `${mb(s.bavail * s.bsize)} free of ${mb(s.blocks * s.bsize)}`;
  } catch (e) {
    return `free space unknown: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

/** A JobFailure SINK_FULL when `err` is the output volume failing; undefined for anything else. */
export async function sinkFailure(volume: string, what: string, err: unknown): Promise<JobFailure | undefined> {
  const code = ioCode(err);
  if (!code) return undefined;
  const why = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG' ? 'the output volume is full' : `the output volume failed (${code})`;
  return new JobFailure(JobErrors.sinkFull(`${what}: ${why}: ${volume} has ${await freeSpace(volume)} (${(err as Error).message})`));
}
